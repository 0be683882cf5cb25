import { generateKeyPairSync } from 'node:crypto'
import { SignJWT, exportSPKI } from 'jose'
import t from 'tap'
import { SERVICE_KEY, buildGateway, openImCall, post, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, jwksServer, rsaKey, signHs256 } from '../jwt.js'

t.test('no credentials: 401 UNAUTHENTICATED, and nothing reaches OpenIM', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'a', platformID: 5 } })
  t.equal(response.statusCode, 401)
  t.match(response.json(), { code: 'UNAUTHENTICATED', message: /x-api-key/ })
  t.notOk(response.headers['www-authenticate'], 'no Bearer challenge when only API keys are configured')
  const revoke = await app.inject({ method: 'POST', url: '/revoke', payload: {} })
  t.equal(revoke.statusCode, 401)
  t.equal(emulator.callCount(), 0)
})

t.test('API keys: a wrong key is 401, a right one names the caller in the logs', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: `billing:${SERVICE_KEY},bff:another-key-0123456789` })
  t.equal((await provision(app, { userID: 'a', platformID: 5 }, { 'x-api-key': 'wrong-key-0123456789xx' })).statusCode, 401)
  t.equal((await provision(app, { userID: 'a', platformID: 5 }, { 'x-api-key': SERVICE_KEY.slice(0, -1) })).statusCode, 401, 'a prefix is not enough')
  t.equal(emulator.callCount(), 0)
  t.equal((await provision(app, { userID: 'a', platformID: 5 }, { 'x-api-key': 'another-key-0123456789' })).statusCode, 201)
  t.ok(logs.records.some((line) => line.caller === 'service:bff'))
  t.notMatch(logs.text, 'another-key-0123456789')
})

t.test('key rotation: two keys under one name both work, as the same caller with one rate-limit budget', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: `billing:${SERVICE_KEY},billing:the-new-key-0123456789`, RATE_LIMIT_MAX: '2' })
  t.equal((await provision(app, { userID: 'ray', platformID: 5 }, { 'x-api-key': SERVICE_KEY })).statusCode, 201, 'the old key')
  t.equal((await provision(app, { userID: 'ray', platformID: 5 }, { 'x-api-key': 'the-new-key-0123456789' })).statusCode, 200, 'the new key')
  t.equal((await provision(app, { userID: 'ray', platformID: 5 }, { 'x-api-key': 'the-new-key-0123456789' })).statusCode, 429, 'one budget for the name')
  t.same(logs.records.filter((line) => line.msg === 'request completed').map((line) => line.caller), ['service:billing', 'service:billing', 'service:billing'])
})

t.test('a service must name the userID', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await provision(app, { platformID: 5 })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { code: 'INVALID_REQUEST', message: /userID/ })
})

t.test('end-user JWT (HS256): the userID comes from the sub claim; another userID is 403', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const token = await signHs256({ sub: 'alice_7' })
  const implied = await provision(app, { platformID: 5 }, bearer(token))
  t.equal(implied.statusCode, 201)
  t.equal(implied.json().userID, 'alice_7')
  t.equal((await provision(app, { userID: 'alice_7', platformID: 2 }, bearer(token))).statusCode, 200)
  const other = await provision(app, { userID: 'bob', platformID: 5 }, bearer(token))
  t.equal(other.statusCode, 403)
  t.equal(other.json().code, 'FORBIDDEN')
  t.notOk(emulator.users.has('bob'))
  t.ok(logs.records.some((line) => line.caller === 'user:alice_7'))
  t.notMatch(logs.text, token, 'the bearer token is never logged')
})

t.test('a request with both an API key and a bearer token is served as the service: the key wins, the token is not read', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const both = (authorization: string) => ({ 'x-api-key': SERVICE_KEY, authorization })
  const forwarded = await provision(app, { userID: 'bob', platformID: 5 }, both(`Bearer ${await signHs256({ sub: 'alice_7' })}`))
  t.equal(forwarded.statusCode, 201, 'the service names another userID than the token\'s, as services may')
  t.equal(forwarded.json().userID, 'bob')
  t.equal((await provision(app, { userID: 'bob', platformID: 5 }, both('Bearer not-a-jwt'))).statusCode, 200, 'a broken token does not matter')
  t.ok(logs.records.some((line) => line.caller === 'service:tests'))
  t.notOk(logs.records.some((line) => line.caller === 'user:alice_7'))
})

t.test('bad tokens are 401 with a Bearer challenge', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_ISSUER: 'https://id.example.com' })
  const good = { sub: 'carol', iss: 'https://id.example.com', aud: 'chat' }
  t.equal((await provision(app, { platformID: 5 }, bearer(await signHs256(good)))).statusCode, 201, 'the good token works')
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...good, exp: 9999999999 })).toString('base64url')}.`
  const cases: Array<[string, string, RegExp]> = [
    ['expired', await signHs256({ ...good, exp: Math.floor(Date.now() / 1000) - 60 }), /expired/],
    ['not yet valid', await signHs256({ ...good, nbf: Math.floor(Date.now() / 1000) + 600 }), /"nbf"/],
    ['wrongly signed', await signHs256(good, new TextEncoder().encode('another-secret-of-at-least-32-chars!!')), /signature/],
    ['alg none', unsigned, /algorithm|malformed/],
    ['wrong issuer', await signHs256({ ...good, iss: 'https://evil.example.com' }), /^the token's "iss" claim is not accepted$/],
    ['wrong audience', await signHs256({ ...good, aud: 'billing' }), /"aud"/],
    ['no sub', await signHs256({ iss: good.iss, aud: good.aud }), /^the token has no usable "sub" claim$/],
    ['garbage', 'not.a.jwt', /malformed/]
  ]
  for (const [what, token, message] of cases) {
    const response = await provision(app, { platformID: 5 }, bearer(token))
    t.equal(response.statusCode, 401, what)
    t.match(response.json(), { code: 'UNAUTHENTICATED', message }, what)
    t.match(response.headers['www-authenticate'], /^Bearer realm="openim-gateway", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/, `${what}: a well-formed challenge (RFC 6750)`)
    // The message itself, its double quotes made single: the description says what the body says.
    t.ok(response.headers['www-authenticate']?.toString().endsWith(`error_description="${response.json().message.replaceAll('"', '\'')}"`), `${what}: the description is the message`)
  }
  const basic = await provision(app, { platformID: 5 }, { authorization: 'Basic abc' })
  t.equal(basic.statusCode, 401)
  t.match(basic.headers['www-authenticate'], /invalid_request/)
  const none = await app.inject({ method: 'POST', url: '/provision', payload: { platformID: 5 } })
  t.equal(none.headers['www-authenticate'], 'Bearer realm="openim-gateway"')
  t.equal(emulator.callCount('/user/user_register'), 1, 'only the good token registered anyone')
})

t.test('JWKS (RS256) from a local server, with key rotation', async (t) => {
  const emulator = await startOpenIm(t)
  const jwks = await jwksServer(t)
  const first = await rsaKey('key-1')
  jwks.keys.current = [first.jwk]
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: jwks.url, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_COOLDOWN_MS: '0' })
  t.equal((await provision(app, { platformID: 5 }, bearer(await first.sign({ sub: 'dan' })))).statusCode, 201)
  t.equal((await provision(app, { platformID: 5 }, bearer(await first.sign({ sub: 'dan' })))).statusCode, 200)
  t.equal(jwks.fetches(), 1, 'the key set is cached')

  const second = await rsaKey('key-2')
  jwks.keys.current = [second.jwk]
  t.equal((await provision(app, { platformID: 6 }, bearer(await second.sign({ sub: 'dan' })))).statusCode, 200, 'a new kid triggers a refetch')
  t.equal(jwks.fetches(), 2)
  const retired = await provision(app, { platformID: 5 }, bearer(await first.sign({ sub: 'dan' })))
  t.equal(retired.statusCode, 401, 'a retired key no longer works')
  t.match(retired.json().message, /signed with a key the identity provider does not publish/)

  const stranger = await rsaKey('key-2')
  t.equal((await provision(app, { platformID: 5 }, bearer(await stranger.sign({ sub: 'dan' })))).statusCode, 401, 'same kid, other key')
})

t.test('JWKS that cannot be fetched is 503 AUTH_UNAVAILABLE', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json', JWT_AUDIENCE: AUDIENCE })
  const key = await rsaKey('k')
  const response = await provision(app, { platformID: 5 }, bearer(await key.sign({ sub: 'erin' })))
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'AUTH_UNAVAILABLE')
})

t.test('JWT_PUBLIC_KEY (PEM, also with \\n escapes)', async (t) => {
  const emulator = await startOpenIm(t)
  const key = await rsaKey('pem')
  const pem = await exportSPKI(key.publicKey)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_PUBLIC_KEY: pem.trim().replaceAll('\n', '\\n'), JWT_AUDIENCE: AUDIENCE })
  t.equal((await provision(app, { platformID: 5 }, bearer(await key.sign({ sub: 'finn' })))).statusCode, 201)
  t.equal((await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'finn' })))).statusCode, 401, 'HS256 is not accepted')
})

t.test('one RSA PEM verifies every RSA algorithm JWT_ALGORITHMS lists, not only the first', async (t) => {
  const emulator = await startOpenIm(t)
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const { app } = await buildGateway(t, emulator.url, {
    GATEWAY_API_KEYS: '', JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(), JWT_ALGORITHMS: 'RS256,PS256', JWT_AUDIENCE: AUDIENCE
  })
  for (const alg of ['RS256', 'PS256']) {
    const token = await new SignJWT({ sub: 'gail' }).setProtectedHeader({ alg }).setAudience(AUDIENCE).setExpirationTime('5m').sign(privateKey)
    t.ok([200, 201].includes((await provision(app, { platformID: 5 }, bearer(token))).statusCode), alg)
  }
  const rs384 = await new SignJWT({ sub: 'gail' }).setProtectedHeader({ alg: 'RS384' }).setAudience(AUDIENCE).setExpirationTime('5m').sign(privateKey)
  t.match((await provision(app, { platformID: 5 }, bearer(rs384))).json(), { statusCode: 401, message: /algorithm is not accepted/ }, 'unlisted algorithms stay refused')
})

t.test('a custom user-ID claim', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_USER_ID_CLAIM: 'uid' })
  const response = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'x-y', uid: 12345 })))
  t.equal(response.json().userID, '12345')
})

t.test('subjects OpenIM refuses: a clear error naming JWT_USER_ID_MAPPING by default, a deterministic mapping with it', async (t) => {
  const emulator = await startOpenIm(t)
  const token = await signHs256({ sub: 'auth0|5f7c8ec7c33c6c004bbafe82' })
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const refused = await provision(app, { platformID: 5 }, bearer(token))
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { code: 'INVALID_USER_ID', message: /JWT_USER_ID_MAPPING=hash/ })

  const { app: mapped } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_USER_ID_MAPPING: 'hash' })
  const first = await provision(mapped, { platformID: 5 }, bearer(token))
  t.equal(first.statusCode, 201)
  t.match(first.json().userID, /^h_[0-9a-f]{40}$/)
  const again = await provision(mapped, { platformID: 5 }, bearer(await signHs256({ sub: 'auth0|5f7c8ec7c33c6c004bbafe82' })))
  t.equal(again.json().userID, first.json().userID, 'deterministic')
  t.equal(again.statusCode, 200)
  const valid = await provision(mapped, { platformID: 5 }, bearer(await signHs256({ sub: 'plain_user' })))
  t.equal(valid.json().userID, 'plain_user', 'valid subjects are kept')
})

t.test('API keys and JWTs together', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  t.equal((await provision(app, { userID: 'gus', platformID: 5 })).statusCode, 201, 'service')
  t.equal((await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'gus' })))).statusCode, 200, 'user')
})

t.test('POST /revoke: a service revokes anyone, on every platform by default; the revoked token stops working', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const token = (await provision(app, { userID: 'hana', platformID: 5 })).json().token
  emulator.resetCounts()
  const response = await post(app, '/revoke', { userID: 'hana' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { userID: 'hana', platformIDs: [1, 2, 3, 4, 5, 6, 7, 8, 9] })
  t.equal(emulator.callCount('/auth/force_logout'), 9)
  t.equal((await openImCall(emulator.url, '/auth/parse_token', { token })).json?.errCode, 1506, 'kicked')
  const one = await post(app, '/revoke', { userID: 'hana', platformID: 2 })
  t.same(one.json().platformIDs, [2])
  t.equal((await post(app, '/revoke', { userID: 'hana', platformID: 10 })).statusCode, 400)
  t.equal((await post(app, '/revoke', { userID: 'a:b' })).json().code, 'INVALID_USER_ID')
})

t.test('POST /revoke: an end user revokes only themself', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  await provision(app, { userID: 'ivan', platformID: 5 })
  const token = await signHs256({ sub: 'ivan' })
  t.equal((await post(app, '/revoke', { platformID: 5 }, bearer(token))).statusCode, 200)
  const other = await post(app, '/revoke', { userID: 'someone_else' }, bearer(token))
  t.equal(other.statusCode, 403)
  t.equal(other.json().code, 'FORBIDDEN')
})

t.test('no credential appears in any log line', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE, LOG_LEVEL: 'trace' })
  const token = await signHs256({ sub: 'jill' })
  await provision(app, { platformID: 5 }, bearer(token))
  await provision(app, { userID: 'jill', platformID: 5 })
  await provision(app, { userID: 'jill', platformID: 5 }, { 'x-api-key': 'a-wrong-key-0123456789' })
  for (const secret of [token, SERVICE_KEY, 'a-wrong-key-0123456789', JWT_SECRET]) t.notMatch(logs.text, secret)
})

t.test('CORS: only the configured origins get CORS headers; preflights allow what the API needs', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { CORS_ORIGINS: 'https://app.example.com,http://localhost:5173' })
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/provision',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-request-id' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.match(preflight.headers['access-control-allow-headers'], /authorization.*content-type.*x-request-id/)
  const actual = await provision(app, { userID: 'kim', platformID: 5 }, { origin: 'http://localhost:5173' })
  t.equal(actual.headers['access-control-allow-origin'], 'http://localhost:5173')
  t.match(actual.headers['access-control-expose-headers'], /x-request-id/)
  const refused = await provision(app, { userID: 'kim', platformID: 5 }, { origin: 'http://localhost:5173', 'x-api-key': 'wrong-key-0123456789xx' })
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['access-control-expose-headers'], /www-authenticate/, 'page code may read why its token was refused')
  const stranger = await app.inject({
    method: 'OPTIONS', url: '/provision', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' }
  })
  t.notOk(stranger.headers['access-control-allow-origin'])
  const { app: noCors } = await buildGateway(t, emulator.url)
  t.notOk((await provision(noCors, { userID: 'kim', platformID: 5 }, { origin: 'https://app.example.com' })).headers['access-control-allow-origin'])
})

t.test('security headers on every response; Swagger UI still loads under its CSP', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.headers['x-content-type-options'], 'nosniff')
  t.match(health.headers['content-security-policy'], /default-src 'self'/)
  t.ok(health.headers['strict-transport-security'])
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  const scripts = [...ui.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((match) => match[1])
  t.ok(scripts.length > 0)
  t.notMatch(ui.body, /<script>(?!\s*<\/script>)[^<]+<\/script>/, 'no inline script the CSP would block')
  for (const src of scripts.map(String)) t.equal((await app.inject({ url: new URL(src, 'http://x/docs/').pathname })).statusCode, 200, src)
})

t.test('the OpenAPI document declares both security schemes on the protected operations only', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const document = (await app.inject({ url: '/docs/json' })).json()
  t.same(Object.keys(document.components.securitySchemes).sort(), ['apiKey', 'bearerAuth'])
  t.match(document.components.securitySchemes.apiKey, { type: 'apiKey', in: 'header', name: 'x-api-key' })
  t.match(document.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' })
  for (const path of ['/provision', '/revoke']) t.same(document.paths[path].post.security, [{ apiKey: [] }, { bearerAuth: [] }], path)
  t.same(document.paths['/healthz'].get.security, [], 'open operations say so')
})
