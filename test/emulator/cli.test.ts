import { spawn } from 'node:child_process'
import t from 'tap'
import { openImCall, waitFor } from '../helper.js'

// `npm run emulator` as users run it (node dist/emulator/cli.js); `npm test` builds first.
const cliEntry = new URL('../../dist/emulator/cli.js', import.meta.url).pathname

t.test('npm run emulator treats empty variables as unset, like the gateway', async (t) => {
  const empty = { HOST: '', OPENIM_EMULATOR_MODE: '', OPENIM_EMULATOR_LATENCY_MS: '', OPENIM_EMULATOR_CLOCK_SKEW_SECONDS: '', OPENIM_SECRET: '', OPENIM_ADMIN_USER_ID: '' }
  const child = spawn(process.execPath, [cliEntry], { env: { PATH: process.env.PATH ?? '', PORT: '0', ...empty }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => { child.kill('SIGKILL') })
  // Its second line (admin and secret) may come in a chunk of its own.
  await waitFor(() => /admin userID [^\n]*\n/.test(output) || child.exitCode !== null, 'the emulator to print both lines or exit')
  t.match(output, /OpenIM emulator \(current API\) listening on http:\/\/127\.0\.0\.1:\d+/, 'the default mode and host')
  const secret = /secret (\S+) \(random: set OPENIM_SECRET to choose one\)/.exec(output)?.[1]
  t.ok(secret, 'a random secret, as when OPENIM_SECRET is not set')
  t.match(output, /admin userID imAdmin;/)
  const url = /listening on (http:\/\/\S+)/.exec(output)![1]!
  const minted = await openImCall(url, '/auth/get_admin_token', { secret, userID: 'imAdmin' })
  t.equal(minted.json?.errCode, 0, 'the printed secret is the one it uses')
})
