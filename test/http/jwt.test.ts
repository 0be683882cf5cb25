import { createHash } from 'node:crypto'
import { mock } from 'node:test'
import t from 'tap'
import { buildGateway, post, provision, startOpenIm, waitFor } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, jwksServer, rsaKey, signHs256 } from '../jwt.js'

const now = () => Math.floor(Date.now() / 1000)
const hs256Env = { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE }

t.test('JWT_USER_ID_MAPPING=hash is one-to-one: a subject shaped like a mapped userID is refused, not passed through', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...hs256Env, JWT_USER_ID_CLAIM: 'preferred_username', JWT_USER_ID_MAPPING: 'hash' })
  const victim = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: '1', preferred_username: 'john.doe' })))
  const mapped = `h_${createHash('sha256').update('john.doe').digest('hex').slice(0, 40)}`
  t.equal(victim.json().userID, mapped, 'the documented mapping')
  const impostor = bearer(await signHs256({ sub: '2', preferred_username: mapped }))
  emulator.resetCounts()
  for (const [what, response] of [['provision', await provision(app, { platformID: 5 }, impostor)], ['revoke', await post(app, '/revoke', {}, impostor)]] as const) {
    t.equal(response.statusCode, 401, what)
    t.match(response.json(), { code: 'UNAUTHENTICATED', message: /mapped userID/ }, what)
    t.match(response.headers['www-authenticate'], /error="invalid_token"/, what)
  }
  t.equal(emulator.callCount(), 0, 'nothing minted or revoked for the impostor')
  t.equal((await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: '3', preferred_username: 'H_' + mapped.slice(2).toUpperCase() })))).statusCode, 201, 'other shapes pass through')
  t.equal((await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: '4', preferred_username: 'plain_user' })))).json().userID, 'plain_user', 'valid subjects keep their userID')
})

t.test('a subject of the mapped form is refused without mapping too, so nobody can pre-create the account a later "hash" maps to', async (t) => {
  const emulator = await startOpenIm(t)
  const { app: unmapped } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_USER_ID_CLAIM: 'preferred_username' })
  const victimsAccount = `h_${createHash('sha256').update('auth0|victim-42').digest('hex').slice(0, 40)}`
  const attacker = bearer(await signHs256({ sub: '2', preferred_username: victimsAccount }))
  for (const [what, response] of [['provision', await provision(unmapped, { platformID: 1 }, attacker)], ['revoke', await post(unmapped, '/revoke', {}, attacker)]] as const) {
    t.equal(response.statusCode, 401, what)
    t.match(response.json(), { code: 'UNAUTHENTICATED', message: /mapped userID/ }, what)
  }
  t.notOk(emulator.users.has(victimsAccount), 'the account was not created')
  t.equal(emulator.callCount(), 0)
  t.equal((await provision(unmapped, { platformID: 5 }, bearer(await signHs256({ sub: '3', preferred_username: 'auth0_victim_42' })))).statusCode, 201, 'other subjects pass through')

  // The switch: the victim gets a fresh account, not one an attacker made earlier.
  const { app: mapped } = await buildGateway(t, emulator.url, { ...hs256Env, JWT_USER_ID_CLAIM: 'preferred_username', JWT_USER_ID_MAPPING: 'hash' })
  const victim = await provision(mapped, { platformID: 5 }, bearer(await signHs256({ sub: '1', preferred_username: 'auth0|victim-42' })))
  t.equal(victim.statusCode, 201, 'created now, by its owner')
  t.equal(victim.json().userID, victimsAccount)

  // Services compute mapped IDs and may still provision them (an import, a back end acting for the user).
  t.equal((await provision(unmapped, { userID: `h_${'0'.repeat(40)}`, platformID: 5 })).statusCode, 201, 'a service may name a mapped ID')
})

t.test('a key set that cannot be fetched is 503 AUTH_UNAVAILABLE with Retry-After, fetched at most once per cooldown', async (t) => {
  const emulator = await startOpenIm(t)
  const jwks = await jwksServer(t)
  const key = await rsaKey('k1')
  jwks.keys.current = [key.jwk]
  jwks.keys.status = 500
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: jwks.url, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_COOLDOWN_MS: '3000' })
  const valid = bearer(await key.sign({ sub: 'erin' }))
  const strangers = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await rsaKey(`unknown-${i}`)).sign({ sub: 'mallory' })))
  // The cooldown's clock moves when the test moves it: a busy machine cannot end it during the burst.
  mock.timers.enable({ apis: ['Date'], now: Date.now() })
  t.teardown(() => mock.timers.reset())
  const first = await provision(app, { platformID: 5 }, valid)
  t.equal(first.statusCode, 503, 'a valid token is not "malformed" because the identity provider failed')
  t.match(first.json(), { code: 'AUTH_UNAVAILABLE' })
  t.equal(first.headers['retry-after'], '3')

  const burst = await Promise.all(strangers.map((token) => provision(app, { platformID: 5 }, bearer(token))))
  t.ok(burst.every((response) => response.statusCode === 503 && Number(response.headers['retry-after']) >= 1))
  t.equal(jwks.fetches(), 1, 'one fetch for the first failure, none during the cooldown')

  jwks.keys.status = 200
  mock.timers.tick(3000)
  await waitFor(async () => (await provision(app, { platformID: 5 }, valid)).statusCode === 201, 'the cooldown to end and the key set to load')
  t.equal(jwks.fetches(), 2, 'one more fetch after the cooldown')
})

t.test('concurrent requests share one failing fetch', async (t) => {
  const emulator = await startOpenIm(t)
  const jwks = await jwksServer(t)
  jwks.keys.status = 502
  const key = await rsaKey('k1')
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: jwks.url, JWT_AUDIENCE: AUDIENCE })
  const token = bearer(await key.sign({ sub: 'erin' }))
  const responses = await Promise.all(Array.from({ length: 20 }, () => provision(app, { platformID: 5 }, token)))
  t.ok(responses.every((response) => response.statusCode === 503))
  t.equal(jwks.fetches(), 1)
})

t.test('tokens must expire: no exp is 401, and the clock tolerance bounds the skew', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, hs256Env)
  const status = async (claims: Record<string, unknown>, target = app) => {
    const response = await provision(target, { platformID: 5 }, bearer(await signHs256({ sub: 'kai', ...claims })))
    return response.statusCode === 401 ? response.json().message as string : response.statusCode
  }
  t.match(await status({ exp: undefined }), /no "exp" claim/)
  t.equal(await status({ exp: now() - 20 }), 201, 'expired 20 s ago: within the default 30 s tolerance')
  t.match(await status({ exp: now() - 40 }), /expired/)
  t.equal(await status({ iat: now() + 20 }), 200, 'issued 20 s ahead: within the tolerance')
  t.match(await status({ iat: now() + 120, exp: now() + 600 }), /"iat" claim is in the future/)
  t.match(await status({ nbf: now() + 40 }), /"nbf"/)

  const { app: strict } = await buildGateway(t, emulator.url, { ...hs256Env, JWT_CLOCK_TOLERANCE_SECONDS: '0' })
  t.match(await status({ exp: now() - 20 }, strict), /expired/, 'JWT_CLOCK_TOLERANCE_SECONDS=0')
  t.match(await status({ iat: now() + 20 }, strict), /future/)
})

t.test('JWT_MAX_LIFETIME_SECONDS bounds exp − iat and then requires iat', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...hs256Env, JWT_MAX_LIFETIME_SECONDS: '3600' })
  const call = async (claims: Record<string, unknown>) => provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'lou', ...claims })))
  t.equal((await call({ exp: now() + 1800 })).statusCode, 201)
  t.match((await call({ exp: now() + 7200 })).json(), { statusCode: 401, message: /lifetime/ })
  t.match((await call({ iat: undefined })).json(), { statusCode: 401, message: /no "iat" claim/ })
  const { app: unbounded } = await buildGateway(t, emulator.url, hs256Env)
  t.equal((await provision(unbounded, { platformID: 5 }, bearer(await signHs256({ sub: 'lou', exp: now() + 86_400 * 365 })))).statusCode, 200, 'unbounded by default')
})

t.test('the audience is checked by default; JWT_ALLOW_ANY_AUDIENCE=true accepts any', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, hs256Env)
  const forAnotherApp = bearer(await signHs256({ sub: 'mo', aud: 'billing-dashboard' }))
  t.match((await provision(app, { platformID: 5 }, forAnotherApp)).json(), { statusCode: 401, message: /"aud"/ })
  t.match((await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'mo', aud: undefined })))).json(), { statusCode: 401, message: /no "aud" claim/ })
  const { app: any } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_ALLOW_ANY_AUDIENCE: 'true' })
  t.equal((await provision(any, { platformID: 5 }, forAnotherApp)).statusCode, 201)
})
