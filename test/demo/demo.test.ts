import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import { decodeJwt } from 'jose'
import t, { type Test } from 'tap'
import { builtClientScript } from '../client/built.js'

// The demo as a front-end developer runs it: the built entry points in child processes, over real HTTP.
const dist = new URL('../../dist/demo/', import.meta.url).pathname
builtClientScript()

/** Starts the demo with `env` on a free port and waits for its banner; stopped when the test ends. */
async function startDemo (t: Test, env: Record<string, string>) {
  const child = spawn(process.execPath, [`${dist}main.js`], { env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGTERM') })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const deadline = Date.now() + 30_000
  while (!output.includes('Stop:')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const field = (pattern: RegExp) => pattern.exec(output)?.[1] ?? ''
  return {
    output,
    gateway: field(/gateway (http:\/\/\S+?),/),
    apiKey: field(/API key: +(\S+)/),
    openim: field(/OpenIM: +(\S+)/),
    openimSecret: field(/secret (\S+),/),
    doctor: field(/Doctor: +(.+)/),
    bearer: field(/Bearer token: +(\S+)/),
    pinned: field(/pinned: (\S+)/),
    integrity: field(/integrity="(\S+)"/)
  }
}

const provision = (gateway: string, headers: Record<string, string>, body: unknown) => fetch(`${gateway}/provision`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body)
})

t.test('the demo passes gateway variables through and prints an API key and an end-user token that both work', { timeout: 90_000 }, async (t) => {
  const { gateway, apiKey, bearer } = await startDemo(t, { CORS_ORIGINS: 'http://localhost:5173', RATE_LIMIT_MAX: '7' })
  const service = await provision(gateway, { 'x-api-key': apiKey }, { userID: 'svc_user', platformID: 5 })
  t.equal(service.status, 201)
  t.equal(service.headers.get('x-ratelimit-limit'), '7', 'RATE_LIMIT_MAX reached the gateway')
  const user = await provision(gateway, { authorization: `Bearer ${bearer}`, origin: 'http://localhost:5173' }, { platformID: 5 })
  t.equal(user.status, 201)
  t.equal((await user.json() as { userID: string }).userID, 'alice_42')
  t.equal(user.headers.get('access-control-allow-origin'), 'http://localhost:5173', 'CORS_ORIGINS reached the gateway')
  t.match(decodeJwt(bearer), { sub: 'alice_42', name: 'alice_42', iss: String, aud: String, exp: Number })
})

t.test('the demo prints its emulator\'s URL and secret, which OpenIM\'s own API accepts, and hands SDKs the emulator\'s address', { timeout: 90_000 }, async (t) => {
  const { gateway, apiKey, openim, openimSecret, doctor } = await startDemo(t, {})
  t.match(openim, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(doctor, `OPENIM_API_URL=${openim} OPENIM_SECRET=${openimSecret} npm run doctor`)
  const admin = await fetch(`${openim}/auth/get_admin_token`, {
    method: 'POST', headers: { 'content-type': 'application/json', operationID: 'demo-test' }, body: JSON.stringify({ secret: openimSecret, userID: 'imAdmin' })
  })
  t.match(await admin.json(), { errCode: 0, data: { token: String } }, 'the printed secret is the emulator\'s')
  const answer = await (await provision(gateway, { 'x-api-key': apiKey }, { userID: 'sdk_user', platformID: 5 })).json()
  t.match(answer, { apiAddr: openim, wsAddr: `${openim.replace('http', 'ws')}/msg_gateway` }, 'what the WASM example logs in with')
})

t.test('the public addresses a caller sets win over the emulator\'s', { timeout: 90_000 }, async (t) => {
  const { gateway, apiKey, output } = await startDemo(t, { OPENIM_PUBLIC_API_URL: 'https://im.example.com/api', OPENIM_PUBLIC_WS_URL: '' })
  const answer = await (await provision(gateway, { 'x-api-key': apiKey }, { userID: 'sdk_user', platformID: 5 })).json()
  t.match(answer, { apiAddr: 'https://im.example.com/api', wsAddr: /^ws:\/\/127\.0\.0\.1:\d+\/msg_gateway$/ }, 'an empty variable is unset')
  t.match(output, /SDK addresses: apiAddr https:\/\/im\.example\.com\/api, wsAddr ws:/)
})

t.test('the demo prints the pinned provider URL and its SRI hash, and they match what it serves', { timeout: 90_000 }, async (t) => {
  const { gateway, pinned, integrity } = await startDemo(t, {})
  t.match(pinned, new RegExp(`^${gateway}/client/[0-9a-f]{16}\\.js$`))
  const response = await fetch(pinned)
  t.equal(response.status, 200)
  t.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  t.equal(`sha384-${createHash('sha384').update(Buffer.from(await response.arrayBuffer())).digest('base64')}`, integrity, 'the printed integrity')
})

t.test('demo:token mints tokens for other users that the running demo accepts', { timeout: 90_000 }, async (t) => {
  const { gateway } = await startDemo(t, {})
  const { stdout } = await promisify(execFile)(process.execPath, [`${dist}token.js`, 'bob_7'])
  const token = stdout.trim()
  t.match(decodeJwt(token), { sub: 'bob_7', name: 'bob_7', iss: String, aud: String })
  const response = await provision(gateway, { authorization: `Bearer ${token}` }, { platformID: 2 })
  t.equal(response.status, 201)
  t.equal((await response.json() as { userID: string }).userID, 'bob_7')
  const usage = await promisify(execFile)(process.execPath, [`${dist}token.js`]).catch((error: { code: number, stderr: string }) => error)
  t.match(usage, { code: 1, stderr: /usage: npm run -s demo:token -- <userID>/ })
})

t.test('a bad variable stops the demo with one line naming it', { timeout: 60_000 }, async (t) => {
  const result = await promisify(execFile)(process.execPath, [`${dist}main.js`], { env: { ...process.env, PORT: '0', RATE_LIMIT_MAX: '0' } })
    .catch((error: { code: number, stderr: string }) => error)
  t.match(result, { code: 1, stderr: /RATE_LIMIT_MAX/ })
})

t.test('a busy port gives a one-line hint instead of a stack trace', { timeout: 60_000 }, async (t) => {
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  const result = await promisify(execFile)(process.execPath, [`${dist}main.js`], { env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' } })
    .catch((error: { code: number, stderr: string }) => error)
  t.equal((result as { code: number }).code, 1)
  const stderr = (result as { stderr: string }).stderr.trim()
  t.equal(stderr.split('\n').length, 1, stderr)
  t.match(stderr, new RegExp(`port ${port} .*in use.*PORT=${port + 1} npm run demo`))
})
