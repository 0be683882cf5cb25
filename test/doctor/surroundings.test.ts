import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { exportJWK, generateKeyPair } from 'jose'
import t from 'tap'
import { renderText } from '../../src/doctor/report.js'
import { skipWithoutRedis, startRedis } from '../redis.js'
import { check, closedPort, doctor, startDoctorOpenIm, statuses } from './helper.js'

interface Teardown { teardown (fn: () => unknown): void }

/** Listens on a loopback port; the teardown drops open connections first, so closing never waits on them. */
async function listen (t: Teardown, server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as AddressInfo).port
}

/** Accepts connections and never says a word. */
const silentServer = (t: Teardown) => listen(t, createTcpServer(() => {}))

t.test('caller authentication is reported, never fatal: the README\'s command (OpenIM\'s settings alone) passes', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const none = await doctor(emulator.url, { GATEWAY_API_KEYS: '' })
  t.equal(check(none, 'gateway.caller_auth').status, 'warn')
  t.match(check(none, 'gateway.caller_auth').summary, /only OpenIM was checked, and the gateway refuses to start without it/)
  t.match(check(none, 'gateway.caller_auth').hint, /GATEWAY_API_KEYS.*JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET/)
  t.equal(check(none, 'openim.admin').status, 'pass', 'every OpenIM check still ran')
  t.equal(none.ok, true, 'exit code 0 against a healthy OpenIM')

  const disabled = check(await doctor(emulator.url, { GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true' }), 'gateway.caller_auth')
  t.equal(disabled.status, 'warn')
  t.match(disabled.summary, /anyone who reaches the gateway/)

  const jwtSecret = 'an-hs256-secret-of-at-least-32-characters'
  const both = await doctor(emulator.url, { JWT_SECRET: jwtSecret })
  t.equal(check(both, 'gateway.caller_auth').summary, 'API keys for tests; end-user JWTs checked with JWT_SECRET (HS256)')
  t.notMatch(JSON.stringify(both), jwtSecret)
})

t.test('Redis: answers, a refused password without showing it, nobody there, and a silent server within the timeout', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const redis = await startRedis(t)
  const healthy = check(await doctor(emulator.url, { REDIS_URL: redis.url }), 'gateway.redis')
  t.equal(healthy.status, 'pass')
  t.match(healthy.summary, /^redis:\/\/127\.0\.0\.1:\d+\/0 answers \(Redis \d+\.\d+/)

  const password = 'right-horse-battery-staple'
  const admin = new Redis(redis.url)
  await admin.config('SET', 'requirepass', password)
  admin.disconnect()
  const port = new URL(redis.url).port
  const refused = await doctor(emulator.url, { REDIS_URL: `redis://:wrong-${password}@127.0.0.1:${port}/0` })
  const redisCheck = check(refused, 'gateway.redis')
  t.equal(redisCheck.status, 'fail')
  t.match(redisCheck.summary, /^redis:\/\/127\.0\.0\.1:\d+\/0: authentication: WRONGPASS/)
  t.match(redisCheck.hint, /REDIS_URL .* must hold the user and password Redis expects/)
  t.notMatch(JSON.stringify(refused) + renderText(refused, false), password, 'the password is in neither the JSON nor the text report')
  t.equal(check(await doctor(emulator.url, { REDIS_URL: `redis://:${password}@127.0.0.1:${port}/0` }), 'gateway.redis').status, 'pass')

  const nobody = check(await doctor(emulator.url, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` }), 'gateway.redis')
  t.equal(nobody.status, 'fail')
  t.match(nobody.summary, /ECONNREFUSED/)
  t.match(nobody.hint, /REDIS_URL/)

  const unparseable = check(await doctor(emulator.url, { REDIS_URL: 'redis://[' }), 'config')
  t.match(unparseable, { status: 'fail', summary: /REDIS_URL is not a valid URL/ }, 'the gateway would not start with it either')

  const silent = check(await doctor(emulator.url, { REDIS_URL: `redis://127.0.0.1:${await silentServer(t)}`, OPENIM_TIMEOUT_MS: '300' }), 'gateway.redis')
  t.equal(silent.status, 'fail')
  t.ok(silent.durationMs >= 300, `ended by the timeout, never before it (${silent.durationMs} ms)`)
})

t.test('the JWT key set: keys that fit, an empty set, keys of the wrong type, nobody there', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  let body = ''
  const port = await listen(t, createHttpServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(body) }))
  const jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`
  const rsa = { ...await exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey), kid: 'rsa-1', alg: 'RS256' }
  const ec = { ...await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey), kid: 'ec-1', alg: 'ES256' }
  const run = async (keys: unknown[], env: Record<string, string> = {}) => {
    body = JSON.stringify({ keys })
    return check(await doctor(emulator.url, { JWT_JWKS_URL: jwksUrl, ...env }), 'gateway.jwks')
  }
  const good = await run([rsa, ec])
  t.equal(good.status, 'pass')
  t.equal(good.summary, `${jwksUrl}: 2 keys (RSA, EC)`)
  t.same(good.facts, { keys: 2, keyTypes: ['RSA', 'EC'], kids: ['rsa-1', 'ec-1'] })
  t.equal((await run([])).status, 'fail')
  const wrongType = await run([ec], { JWT_ALGORITHMS: 'RS256' })
  t.equal(wrongType.status, 'fail')
  t.match(wrongType.hint, /no key fits JWT_ALGORITHMS \(RS256\)/)

  const nobody = check(await doctor(emulator.url, { JWT_JWKS_URL: `http://127.0.0.1:${await closedPort()}/jwks.json` }), 'gateway.jwks')
  t.equal(nobody.status, 'fail')
  t.match(nobody.hint, /JWT_JWKS_URL/)
})

t.test('the public addresses: answering ones pass, others are warnings only', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const wsUrl = emulator.url.replace('http', 'ws')
  const good = await doctor(emulator.url, { OPENIM_PUBLIC_API_URL: emulator.url, OPENIM_PUBLIC_WS_URL: wsUrl })
  t.match(statuses(good), { 'openim.public_api': 'pass', 'openim.public_ws': 'pass' })
  t.match(check(good, 'openim.public_ws').summary, /answers HTTP from here \(404/)

  const port = await closedPort()
  const bad = await doctor(emulator.url, { OPENIM_PUBLIC_API_URL: `http://127.0.0.1:${port}`, OPENIM_PUBLIC_WS_URL: `ws://127.0.0.1:${port}` })
  t.match(statuses(bad), { 'openim.public_api': 'warn', 'openim.public_ws': 'warn' })
  t.match(check(bad, 'openim.public_api').hint, /OPENIM_PUBLIC_API_URL is handed to clients as is/)
  t.match(check(bad, 'openim.public_ws').summary, /the websocket gateway is unreachable \(ECONNREFUSED\)/)
  t.equal(bad.ok, true, 'clients may see other addresses than this host')

  emulator.injectFault('*', { kind: 'html' }, Infinity)
  const proxied = check(await doctor(`http://127.0.0.1:${port}`, { OPENIM_PUBLIC_API_URL: emulator.url }), 'openim.public_api')
  t.equal(proxied.status, 'warn')
  t.match(proxied.summary, /instead of OpenIM/)
})

t.test('a key set or public address that never answers is reported within the timeout', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const port = await silentServer(t)
  const report = await doctor(emulator.url, {
    OPENIM_TIMEOUT_MS: '300',
    JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
    OPENIM_PUBLIC_API_URL: `http://127.0.0.1:${port}`,
    OPENIM_PUBLIC_WS_URL: `ws://127.0.0.1:${port}`
  })
  t.match(statuses(report), { 'gateway.jwks': 'fail', 'openim.public_api': 'warn', 'openim.public_ws': 'warn' })
  t.match(check(report, 'openim.public_ws').summary, /did not answer within 300 ms/)
  for (const id of ['gateway.jwks', 'openim.public_api', 'openim.public_ws']) {
    t.ok(check(report, id).durationMs >= 300, `${id} ended by the timeout, never before it (${check(report, id).durationMs} ms)`)
  }
})
