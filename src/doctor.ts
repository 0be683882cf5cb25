import { USAGE, parseDoctorArgs, wantsColour, type DoctorArgs } from './doctor/args.js'
import { WRITE_NOTICE } from './doctor/checks/write.js'
import { renderText } from './doctor/report.js'
import { runDoctor } from './doctor/run.js'

// `npm run doctor` / `node dist/doctor.js`: checks the OpenIM deployment this gateway's settings point at.
let args: DoctorArgs
try {
  args = parseDoctorArgs(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
// Said before anything is written, on stderr so that --json output stays one document.
if (args.write) process.stderr.write(`${WRITE_NOTICE}\n\n`)
const report = await runDoctor({ write: args.write })
process.stdout.write(args.json
  ? `${JSON.stringify(report, null, 2)}\n`
  : renderText(report, wantsColour(process.stdout.isTTY, process.env)))
process.exitCode = report.ok ? 0 : 1
