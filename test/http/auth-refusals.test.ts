import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import t from 'tap'
import { SERVICE_KEY, buildGateway, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, signHs256 } from '../jwt.js'

// What each refusal says and which challenge it carries: a caller (or an operator reading the logs) must
// be able to tell a missing credential from a bad one, and a bad token from an identity provider that is down.

t.test('a missing credential names every accepted kind, and only those', async (t) => {
  const emulator = await startOpenIm(t)
  const configs: Array<[Record<string, string>, string]> = [
    [{}, 'credentials required: send an x-api-key header'],
    [{ GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE }, 'credentials required: send an Authorization: Bearer token'],
    [{ JWT_SECRET, JWT_AUDIENCE: AUDIENCE }, 'credentials required: send an x-api-key header or an Authorization: Bearer token']
  ]
  for (const [env, message] of configs) {
    const { app } = await buildGateway(t, emulator.url, env)
    const response = await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'a', platformID: 5 } })
    t.equal(response.statusCode, 401)
    t.equal(response.json().message, message)
  }
})

t.test('an Authorization header where only API keys are configured is a missing credential, not a crash', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'a', platformID: 5 }, headers: { authorization: 'Bearer abc.def.ghi' } })
  t.equal(response.statusCode, 401)
  t.match(response.json(), { code: 'UNAUTHENTICATED', message: 'credentials required: send an x-api-key header' })
})

t.test('a wrong API key says so, without a Bearer challenge', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const response = await provision(app, { userID: 'a', platformID: 5 }, { 'x-api-key': `${SERVICE_KEY}x` })
  t.equal(response.statusCode, 401)
  t.equal(response.json().message, 'the x-api-key is not valid')
  t.notOk(response.headers['www-authenticate'])
})

t.test('the Authorization header is exactly "Bearer <token>"', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const token = await signHs256({ sub: 'vera' })
  t.equal((await provision(app, { platformID: 5 }, { authorization: `bearer   ${token}` })).statusCode, 201, 'any case, any spacing')
  for (const authorization of [`xBearer ${token}`, `Bearer ${token} extra`, `Bearer${token}`]) {
    const response = await provision(app, { platformID: 5 }, { authorization })
    t.equal(response.statusCode, 401, authorization.slice(0, 12))
    t.equal(response.json().message, 'the Authorization header must be "Bearer <token>"')
    t.match(response.headers['www-authenticate'], /error="invalid_request"/)
  }
})

t.test('an empty user-ID claim is refused', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const response = await provision(app, { platformID: 5 }, { authorization: `Bearer ${await signHs256({ sub: '' })}` })
  t.equal(response.statusCode, 401)
  t.equal(response.json().message, 'the token has no usable "sub" claim')
})

/** An HS256 token whose payload is this exact JSON text, as an identity provider writing 64-bit IDs sends it. */
function hs256WithRawPayload (payload: string) {
  const encode = (text: string) => Buffer.from(text).toString('base64url')
  const signed = `${encode('{"alg":"HS256"}')}.${encode(payload)}`
  return `${signed}.${createHmac('sha256', JWT_SECRET).update(signed).digest('base64url')}`
}

t.test('a numeric user-ID claim JSON cannot carry exactly is refused, so two users never share an account', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_USER_ID_CLAIM: 'uid' })
  const claims = (uid: string) => `{"sub":"s","aud":"${AUDIENCE}","exp":${Math.floor(Date.now() / 1000) + 300},"uid":${uid}}`
  for (const uid of ['12345678901234567890', '12345678901234567891', '9007199254740993', '1e21', '1.5']) {
    const response = await provision(app, { platformID: 5 }, { authorization: `Bearer ${hs256WithRawPayload(claims(uid))}` })
    t.equal(response.statusCode, 401, uid)
    t.match(response.json(), { code: 'UNAUTHENTICATED', message: /"uid" claim is a number .*send it as a string/ }, uid)
    t.match(response.headers['www-authenticate'], /error="invalid_token"/, uid)
  }
  t.equal(emulator.callCount('/user/user_register'), 0, 'no account for a rounded ID')
  const exact = await provision(app, { platformID: 5 }, { authorization: `Bearer ${hs256WithRawPayload(claims('"12345678901234567890"'))}` })
  t.equal(exact.json().userID, '12345678901234567890', 'the same ID as a string is exact')
  const largestSafe = await provision(app, { platformID: 5 }, { authorization: `Bearer ${hs256WithRawPayload(claims('9007199254740991'))}` })
  t.equal(largestSafe.json().userID, '9007199254740991', 'numbers up to 2^53 - 1 are still accepted')
})

t.test('another user\'s userID is refused with a message that says why', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const response = await provision(app, { userID: 'walt', platformID: 5 }, { authorization: `Bearer ${await signHs256({ sub: 'vera' })}` })
  t.equal(response.statusCode, 403)
  t.match(response.json().message, /only act on their own userID/)
})

t.test('AUTH_DISABLED callers are anonymous in the logs', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true' })
  t.equal((await provision(app, { userID: 'xena', platformID: 5 }, { 'x-request-id': 'anon-1' })).statusCode, 201)
  t.ok(logs.records.some((line) => line.reqId === 'anon-1' && line.msg === 'request completed' && line.caller === 'anonymous'))
})

t.test('a JWKS answer that is not a key set is 503 AUTH_UNAVAILABLE with Retry-After, not the caller\'s fault', async (t) => {
  const emulator = await startOpenIm(t)
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_JWKS_URL: url, JWT_AUDIENCE: AUDIENCE })
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const kid = (await exportJWK(publicKey)).n?.slice(0, 8) ?? 'k'
  const token = await new SignJWT({ sub: 'yann' }).setProtectedHeader({ alg: 'RS256', kid }).setAudience(AUDIENCE).setExpirationTime('5m').sign(privateKey)
  const response = await provision(app, { platformID: 5 }, { authorization: `Bearer ${token}` })
  t.equal(response.statusCode, 503)
  t.match(response.json(), { code: 'AUTH_UNAVAILABLE', message: /JWT_JWKS_URL/ })
  const retryAfter = Number(response.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 30, 'Retry-After: at most the JWKS cooldown (JWT_JWKS_COOLDOWN_MS, 30 s)')
})
