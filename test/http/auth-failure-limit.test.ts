import t from 'tap'
import { SERVICE_KEY, buildGateway, post, provision, startOpenIm, waitFor } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, jwksServer, rsaKey, signHs256 } from '../jwt.js'

const wrongKey = (i: number) => `wrong-key-${String(i).padStart(4, '0')}-0123456789`

t.test('past AUTH_FAILURE_LIMIT_MAX failed authentications an address gets 429; a valid API key still works', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '5', AUTH_FAILURE_LIMIT_MAX: '5' })
  const statuses: number[] = []
  for (let i = 0; i < 300; i++) statuses.push((await provision(app, { userID: 'ann', platformID: 5 }, { 'x-api-key': wrongKey(i) })).statusCode)
  t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401])
  t.ok(statuses.slice(5).every((status) => status === 429), 'then 429, whatever key is tried')
  const limited = await provision(app, { userID: 'ann', platformID: 5 }, { 'x-api-key': wrongKey(300) })
  t.match(limited.json(), { code: 'RATE_LIMITED', message: /failed authentications/ })
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
  t.equal((await provision(app, { userID: 'ann', platformID: 5 }, { 'x-api-key': SERVICE_KEY })).statusCode, 201, 'a valid API key is never held back')
  t.match((await app.inject({ url: '/metrics' })).body, /openim_gateway_auth_failure_rejections_total 296/)
  t.equal(logs.records.filter((line) => /too many failed authentications/.test(String(line.msg))).length, 1, 'one warning, not one per request')
  logs.watch(Object.fromEntries(Array.from({ length: 301 }, (_, i) => [`wrong key ${i}`, wrongKey(i)])))
})

t.test('a blocked address gets 429 before its tokens are verified: no key-set fetch for forged kids', async (t) => {
  const emulator = await startOpenIm(t)
  const jwks = await jwksServer(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: jwks.url, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_COOLDOWN_MS: '0', AUTH_FAILURE_LIMIT_MAX: '3' })
  const forged = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await rsaKey(`forged-${i}`)).sign({ sub: 'mallory' })))
  const statuses = []
  for (const token of forged.slice(0, 3)) statuses.push((await provision(app, { platformID: 5 }, bearer(token))).statusCode)
  const fetchesBeforeTheLimit = jwks.fetches()
  t.ok(fetchesBeforeTheLimit >= 3, 'each unknown kid made the gateway ask the identity provider')
  for (const token of forged.slice(3)) statuses.push((await provision(app, { platformID: 5 }, bearer(token))).statusCode)
  t.same(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429])
  t.equal(jwks.fetches(), fetchesBeforeTheLimit, 'past the limit, forged kids reach nobody')
})

t.test('only 401s count; the window ends; AUTH_FAILURE_LIMIT_MAX=0 turns the limit off', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE, AUTH_FAILURE_LIMIT_MAX: '2', AUTH_FAILURE_LIMIT_WINDOW: '1s' })
  const user = bearer(await signHs256({ sub: 'bea' }))
  // The clock the window expires by (lru-cache's TTL reads performance.now) stands still until the test lets it
  // go: a busy machine cannot end the second before the 429 is seen.
  const realNow = performance.now.bind(performance)
  let still: number | undefined = realNow()
  t.intercept(performance, 'now', { value: () => still ?? realNow() })
  for (let i = 0; i < 4; i++) t.equal((await provision(app, { userID: 'someone_else', platformID: 5 }, user)).statusCode, 403, '403s do not count')
  for (let i = 0; i < 2; i++) t.equal((await provision(app, { platformID: 5 }, { 'x-api-key': wrongKey(i) })).statusCode, 401)
  t.equal((await provision(app, { platformID: 5 }, user)).statusCode, 429, 'an end user behind a blocked address waits too')
  still = undefined
  await waitFor(async () => (await provision(app, { platformID: 5 }, user)).statusCode === 201, 'the window to end')

  const { app: unlimited } = await buildGateway(t, emulator.url, { AUTH_FAILURE_LIMIT_MAX: '0', RATE_LIMIT_MAX: '1' })
  for (let i = 0; i < 40; i++) t.equal((await post(unlimited, '/revoke', { userID: 'bea' }, { 'x-api-key': wrongKey(i) })).statusCode, 401)
})

t.test('the address is the client\'s behind a trusted proxy (TRUST_PROXY), else every client shares the proxy\'s', async (t) => {
  const emulator = await startOpenIm(t)
  const env = { AUTH_FAILURE_LIMIT_MAX: '2' }
  const attempt = (app: Parameters<typeof provision>[0], client: string) =>
    provision(app, { userID: 'cy', platformID: 5 }, { 'x-api-key': wrongKey(0), 'x-forwarded-for': client })
  const { app: proxied } = await buildGateway(t, emulator.url, { ...env, TRUST_PROXY: '127.0.0.1' })
  for (let i = 0; i < 2; i++) await attempt(proxied, '203.0.113.1')
  t.equal((await attempt(proxied, '203.0.113.1')).statusCode, 429)
  t.equal((await attempt(proxied, '203.0.113.2')).statusCode, 401, 'another client behind the proxy')
  const { app: direct } = await buildGateway(t, emulator.url, env)
  for (let i = 0; i < 2; i++) await attempt(direct, '203.0.113.1')
  t.equal((await attempt(direct, '203.0.113.2')).statusCode, 429, 'X-Forwarded-For is not believed without TRUST_PROXY')
})
