import t from 'tap'
import type { Report } from '../../src/doctor/report.js'
import { runEntry } from '../entry.js'
import { DOCTOR_SECRET, check, doctorEnv, startDoctorOpenIm, tokensSeen } from './helper.js'

// The built doctor as operators run it (`npm run doctor` = node dist/doctor.js); `npm test` builds first.
const doctorEntry = new URL('../../dist/doctor.js', import.meta.url).pathname

const runCli = (args: string[], env: Record<string, string>) => runEntry(doctorEntry, args, env)

t.test('a healthy deployment: one ✓ line per check and exit code 0', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const { code, stdout } = await runCli([], doctorEnv(emulator.url))
  t.equal(code, 0)
  t.match(stdout, /^✓ OpenIM reachable +5 calls: p50 /m)
  t.match(stdout, /^✓ API generation +current API: OpenIM v3\.8\.1 or later$/m)
  t.match(stdout, /^- Write probes +not run: pass --write/m)
  t.match(stdout, /\nhealthy: \d+ ok, 0 warnings, 0 failing, \d+ skipped/)
  t.notOk(stdout.includes('\u001b['), 'no colours when stdout is not a terminal')
})

t.test('a broken deployment: ✗ with the fix under it, and exit code 1', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const { code, stdout } = await runCli([], doctorEnv(emulator.url, { OPENIM_SECRET: 'wrong-secret-123' }))
  t.equal(code, 1)
  t.match(stdout, /^✗ Secret and admin account +OpenIM refused the secret \(errCode 1002/m)
  t.match(stdout, /^ +fix: OPENIM_SECRET does not match `secret` in OpenIM's share\.yml \/ IMENV_SHARE_SECRET$/m)
  t.match(stdout, /^- account_check and parse_token +skipped: needs "Secret and admin account"$/m)
  t.match(stdout, /problems found: .*1 failing/)
  t.notMatch(stdout, 'wrong-secret-123')
})

t.test('--json --write: one JSON document with no secret and no token in it; the write notice goes to stderr first', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const { code, stdout, stderr } = await runCli(['--json', '--write'], doctorEnv(emulator.url))
  t.equal(code, 0)
  const report = JSON.parse(stdout) as Report
  t.match(report, { doctor: 'openim-gateway', ok: true, target: { apiUrl: emulator.url, write: true, created: ['gwdoctor_probe'] } })
  t.equal(check(report, 'write.kick_on_mint').facts?.kicksOnMint, true)
  t.match(stderr, /--write registers the probe users gwdoctor_probe .* OpenIM cannot delete users/)
  t.notMatch(stdout, DOCTOR_SECRET)
  const tokens = tokensSeen(emulator)
  t.ok(tokens.length >= 3, `the run used tokens (${tokens.length})`)
  for (const token of tokens) t.notOk(stdout.includes(token), 'no token in the report')
})

t.test('--help, and an unknown option named with exit code 2', async (t) => {
  const help = await runCli(['--help'], {})
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: npm run doctor -- \[--json\] \[--write\]/)
  const unknown = await runCli(['--fix-everything'], {})
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /--fix-everything/)
})

t.test('a missing or bad setting is reported, as text and as JSON, naming the variable', async (t) => {
  const text = await runCli([], { OPENIM_SECRET: 'abcdefgh' })
  t.equal(text.code, 1)
  t.match(text.stdout, /^✗ Configuration +invalid configuration: .*OPENIM_API_URL/m)
  const json = await runCli(['--json'], { OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: 'abcdefgh', OPENIM_TIMEOUT_MS: 'soon' })
  t.equal(json.code, 1)
  const report = JSON.parse(json.stdout) as Report
  t.match(check(report, 'config'), { status: 'fail', summary: /OPENIM_TIMEOUT_MS/ })
})

t.test('OPENIM_API_URL with user:pass@ fails the configuration check; the target shows the URL without them', async (t) => {
  const run = await runCli(['--json'], { OPENIM_API_URL: 'http://gw:hunter2-pass@127.0.0.1:1', OPENIM_SECRET: 'abcdefgh' })
  t.equal(run.code, 1)
  const report = JSON.parse(run.stdout) as Report
  t.match(check(report, 'config'), { status: 'fail', summary: /OPENIM_API_URL must not carry a user name or password/ })
  t.equal(report.target.apiUrl, 'http://127.0.0.1:1 (credentials hidden)')
  t.notMatch(run.stdout + run.stderr, /hunter2/)
})
