import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

// Both linters on the committed document (openapi.test.ts keeps it equal to what the app serves), with the
// rule sets and exceptions committed in redocly.yaml and .spectral.yaml. Their output only shows on failure.
const root = new URL('..', import.meta.url).pathname
const run = promisify(execFile)

/** Runs a linter that writes its JSON report to stdout (Redocly) or to `report` (Spectral), and parses it. */
async function lint (command: string, args: string[], report?: string) {
  // Both exit non-zero when they find errors; the report says what they found either way.
  const result = await run(`${root}node_modules/.bin/${command}`, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' } })
    .catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
  if (report !== undefined) return JSON.parse(await readFile(report, 'utf8'))
  // Redocly prints a banner about Node 20's end of life on stdout before its JSON.
  return JSON.parse(result.stdout.slice(result.stdout.search(/^[[{]/m)))
}

t.test('Redocly (recommended rules): no errors and no warnings', async (t) => {
  const report = await lint('redocly', ['lint', '--config', 'redocly.yaml', '--format', 'json', 'openapi/openapi.json'])
  t.same(report.problems.map((problem: { ruleId: string, message: string }) => `${problem.ruleId}: ${problem.message}`), [])
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 0 })
})

t.test('Spectral (spectral:oas): no problems of any severity', async (t) => {
  const output = join(t.testdir(), 'spectral.json')
  const report = await lint('spectral', ['lint', '--ruleset', '.spectral.yaml', '--format', 'json', '--output', output, 'openapi/openapi.json'], output)
  t.same(report.map((problem: { code: string, message: string, path: string[] }) => `${problem.code}: ${problem.message} (${problem.path.join('.')})`), [])
})
