import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { decodeJwt } from 'jose'
import t from 'tap'
import { ADMIN, SECRET, openImCall, startOpenIm, waitFor } from '../helper.js'

// The emulator's clock: what the doctor's clock check reads (the Date header, the tokens' iat and exp).
const cliEntry = new URL('../../dist/emulator/cli.js', import.meta.url).pathname

async function adminMint (url: string, mode: 'current' | 'legacy') {
  const path = mode === 'current' ? '/auth/get_admin_token' : '/auth/user_token'
  const sent = Math.floor(Date.now() / 1000)
  const reply = await openImCall(url, path, { secret: SECRET, userID: ADMIN, platformID: 10 })
  // Between the second it was sent in and the second its answer came in: however long a busy machine took.
  return { sent, received: Math.floor(Date.now() / 1000), claims: decodeJwt(reply.json?.data.token as string) }
}

t.test('current OpenIM back-dates iat by 5 s; legacy stamps it now; exp is now + the lifetime', async (t) => {
  for (const [mode, backdate] of [['current', 5], ['legacy', 0]] as const) {
    const emulator = await startOpenIm(t, { mode, tokenLifetimeSeconds: 3600 })
    const { sent, received, claims } = await adminMint(emulator.url, mode)
    const now = (claims.iat as number) + backdate
    t.ok(now >= sent && now <= received, `${mode}: iat + ${backdate} s is the time of the mint`)
    t.equal(claims.exp, now + 3600, `${mode}: exp counts from the mint, not from iat`)
  }
})

t.test('a skewed clock shows in the Date header and in the tokens', async (t) => {
  const emulator = await startOpenIm(t, { clockSkewSeconds: -3600 })
  const before = Math.floor(Date.now() / 1000) * 1000
  const response = await fetch(`${emulator.url}/auth/parse_token`, { method: 'POST', headers: { operationID: 'op' }, body: '{}' })
  const date = Date.parse(response.headers.get('date') ?? '')
  t.ok(date >= before - 3_600_000 && date <= Date.now() - 3_600_000, `Date header an hour behind (${response.headers.get('date')})`)
  const { sent, received, claims } = await adminMint(emulator.url, 'current')
  const mintedAt = (claims.iat as number) + 5
  t.ok(mintedAt >= sent - 3600 && mintedAt <= received - 3600, 'iat an hour behind')
})

t.test('npm run emulator takes OPENIM_EMULATOR_CLOCK_SKEW_SECONDS, and refuses a bad one naming it', async (t) => {
  const start = (skew: string) => {
    const child = spawn(process.execPath, [cliEntry], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', OPENIM_SECRET: SECRET, OPENIM_EMULATOR_CLOCK_SKEW_SECONDS: skew }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (chunk) => { output += chunk })
    child.stderr.on('data', (chunk) => { output += chunk })
    t.teardown(() => { child.kill('SIGKILL') })
    return { child, output: () => output }
  }
  const bad = start('soon')
  t.equal((await once(bad.child, 'exit'))[0], 1)
  t.match(bad.output(), /OPENIM_EMULATOR_CLOCK_SKEW_SECONDS/)

  const skewed = start('7200')
  await waitFor(() => /listening on (http:\/\/\S+)/.test(skewed.output()), 'the emulator to listen')
  const url = /listening on (http:\/\/\S+)/.exec(skewed.output())![1]!
  const sent = Math.floor(Date.now() / 1000) * 1000
  const response = await fetch(`${url}/auth/parse_token`, { method: 'POST', headers: { operationID: 'op' }, body: '{}' })
  const date = Date.parse(response.headers.get('date') ?? '')
  t.ok(date >= sent + 7_200_000 && date <= Date.now() + 7_200_000, 'Date header two hours ahead')
  skewed.child.kill('SIGTERM')
  await once(skewed.child, 'exit')
})
