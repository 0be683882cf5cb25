import { parseArgs } from 'node:util'

export interface DoctorArgs { json: boolean, write: boolean, help: boolean }

export const USAGE = `usage: npm run doctor -- [--json] [--write]
       node dist/doctor.js [--json] [--write]

Checks the OpenIM deployment the gateway's settings (environment variables) point at, and says what is wrong.

  --json    the report as JSON, for machines and bug reports (no secret or token is ever in it)
  --write   also register the probe users gwdoctor_probe / gwdoctor-probe (once: OpenIM cannot delete users)
            and test kick-on-mint, logout and the userID rule with them
  --help    this text

Exit code 0 only when no check failed.
`

/** The command line; an unknown option throws with a message naming it. */
export function parseDoctorArgs (argv: string[]): DoctorArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true,
    allowPositionals: false
  })
  return { json: values.json, write: values.write, help: values.help }
}

/** Colours only on a terminal, and not when NO_COLOR is set to anything but "" (no-color.org; empty means unset here too). */
export function wantsColour (isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return isTTY === true && (env.NO_COLOR ?? '') === ''
}
