import t from 'tap'
import { EMULATOR_MODES } from '../../src/emulator/modes.js'
import { MAX_ANSWER_BYTES } from '../../src/openim/transport.js'
import { HUNG_CALL_TIMEOUT_MS, SECRET, SERVICE_KEY, buildGateway, openImCall, provision, startOpenIm } from '../helper.js'

const ERROR_KEYS = ['code', 'error', 'message', 'requestId', 'statusCode']

for (const mode of EMULATOR_MODES) {
  t.test(`${mode}: a new user costs 4 OpenIM calls and answers 201 with a token the emulator accepts`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    await app.openim.connectedGeneration({ operationID: 'warm-up' })
    emulator.resetCounts()
    const before = Date.now()
    const response = await provision(app, { userID: 'alice_1', platformID: 5, nickname: 'Alice' })
    t.equal(response.statusCode, 201)
    const body = response.json()
    t.equal(body.userID, 'alice_1')
    t.equal(body.platformID, 5)
    t.equal(body.created, true)
    t.equal(body.expireTimeSeconds, 90 * 86400)
    const expiresAt = Date.parse(body.expiresAt)
    t.ok(expiresAt >= before + 90 * 86400 * 1000 - 1000 && expiresAt <= Date.now() + 90 * 86400 * 1000, 'expiresAt = now + lifetime')
    t.equal(emulator.callCount(), 4)
    t.equal(emulator.users.get('alice_1')?.nickname, 'Alice')
    const parsed = await openImCall(emulator.url, '/auth/parse_token', { token: body.token })
    t.equal(parsed.json?.errCode, 0)
    t.equal(parsed.json?.data.userID, 'alice_1')
  })

  t.test(`${mode}: an existing user costs 2 OpenIM calls and answers 200`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    await provision(app, { userID: 'bob', platformID: 1 })
    emulator.resetCounts()
    const response = await provision(app, { userID: 'bob', platformID: 2 })
    t.equal(response.statusCode, 200)
    t.equal(response.json().created, false)
    t.equal(emulator.callCount(), 2)
    t.same(emulator.recentCalls.map((call) => call.path).sort(), ['/user/account_check', emulator.api === 'current' ? '/auth/get_user_token' : '/auth/user_token'].sort())
  })
}

t.test('nickname defaults to the userID; faceURL and ex are passed on', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'carol', platformID: 5, faceURL: 'https://example.com/c.png', ex: '{"team":1}' })
  t.match(emulator.users.get('carol'), { nickname: 'carol', faceURL: 'https://example.com/c.png', ex: '{"team":1}' })
})

t.test('userID rules of the connected generation are enforced before any registration', async (t) => {
  const current = await startOpenIm(t)
  const { app } = await buildGateway(t, current.url)
  for (const userID of ['a-b', 'auth0|123', 'user@example.com', '550e8400-e29b-41d4-a716-446655440000', 'a b']) {
    const response = await provision(app, { userID, platformID: 5 })
    t.equal(response.statusCode, 400, userID)
    t.equal(response.json().code, 'INVALID_USER_ID')
    t.match(response.json().message, /letters, digits and "_"/)
  }
  t.equal(current.callCount('/user/user_register'), 0)

  const legacy = await startOpenIm(t, { mode: 'legacy' })
  const { app: legacyApp } = await buildGateway(t, legacy.url)
  t.equal((await provision(legacyApp, { userID: '550e8400-e29b-41d4-a716-446655440000', platformID: 5 })).statusCode, 201, 'legacy accepts UUIDs')
  const colon = await provision(legacyApp, { userID: 'a:b', platformID: 5 })
  t.equal(colon.json().code, 'INVALID_USER_ID')
  t.match(colon.json().message, /":"/)
})

t.test('schema violations are 400 INVALID_REQUEST and reach no OpenIM', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const cases: Array<[unknown, RegExp]> = [
    [{ userID: 'a', platformID: 10 }, /platformID must be <= 9/],
    [{ userID: 'a', platformID: 0 }, /platformID must be >= 1/],
    [{ userID: 'a', platformID: '5' }, /platformID must be integer/],
    [{ userID: 'a' }, /must have required property 'platformID'/],
    [{ userID: '', platformID: 5 }, /userID must NOT have fewer than 1 characters/],
    [{ userID: 'a'.repeat(65), platformID: 5 }, /userID must NOT have more than 64 characters/],
    [{ userID: 'a', platformID: 5, appMangerLevel: 3 }, /additional properties: "appMangerLevel"/],
    [{ userID: 'a', platformID: 5, nickname: 'n'.repeat(256) }, /nickname/],
    [[], /body must be object/]
  ]
  for (const [body, message] of cases) {
    const response = await provision(app, body)
    t.equal(response.statusCode, 400, JSON.stringify(body).slice(0, 60))
    t.equal(response.json().code, 'INVALID_REQUEST')
    t.match(response.json().message, message)
  }
  t.equal(emulator.callCount(), 0)
})

t.test('malformed JSON, an empty body, prototype keys and a wrong content type have clear errors', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const headers = { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }
  const bad = await app.inject({ method: 'POST', url: '/provision', payload: '{"userID":', headers })
  t.equal(bad.statusCode, 400)
  t.same(Object.keys(bad.json()).sort(), ERROR_KEYS)
  t.equal(bad.json().message, 'the body is not valid JSON')
  const empty = await app.inject({ method: 'POST', url: '/provision', headers })
  t.match(empty.json(), { code: 'INVALID_REQUEST', message: /empty/ })
  for (const payload of ['{"userID":"a","platformID":5,"__proto__":{"admin":true}}', '{"userID":"a","platformID":5,"x":{"constructor":{"prototype":{}}}}']) {
    const poisoned = await app.inject({ method: 'POST', url: '/provision', payload, headers })
    t.equal(poisoned.statusCode, 400)
    t.match(poisoned.json(), { code: 'INVALID_REQUEST', message: /"__proto__" or "constructor\.prototype" key/ }, 'says why, not "not valid JSON"')
  }
  const text = await app.inject({ method: 'POST', url: '/provision', payload: 'userID=a', headers: { ...headers, 'content-type': 'text/plain' } })
  t.equal(text.statusCode, 415)
  t.equal(text.json().code, 'UNSUPPORTED_MEDIA_TYPE')
  const latin1Headers = { ...headers, 'content-type': 'application/json; charset=latin1' }
  const latin1 = await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'a', platformID: 5 }, headers: latin1Headers })
  t.equal(latin1.statusCode, 415)
  t.match(latin1.json(), { code: 'UNSUPPORTED_MEDIA_TYPE', message: /UTF-8/ })
})

t.test('JSON declared as UTF-8, in any spelling, is read as UTF-8', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const type of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=utf8']) {
    const payload = JSON.stringify({ userID: 'zoë_1', platformID: 5, nickname: 'Zoë' })
    const response = await app.inject({ method: 'POST', url: '/provision', payload, headers: { 'x-api-key': SERVICE_KEY, 'content-type': type } })
    t.ok([200, 201].includes(response.statusCode), type)
    t.equal(emulator.users.get('zoë_1')?.nickname, 'Zoë', type)
  }
})

t.test('unknown routes answer 404 in the error shape', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await app.inject({ method: 'GET', url: '/nope?x=1' })
  t.equal(response.statusCode, 404)
  t.match(response.json(), { code: 'NOT_FOUND', message: 'no route GET /nope' })
})

t.test('every row of the error table', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OPENIM_TIMEOUT_MS: HUNG_CALL_TIMEOUT_MS })
  // Another platform: no token is remembered for platform 5, so every row goes through account_check.
  await provision(app, { userID: 'dave', platformID: 1 })
  const rows = [
    [{ kind: 'errCode', errCode: 1001, errDlt: 'panic: at /go/src/openim/user.go:42' }, 502, 'OPENIM_REJECTED'],
    [{ kind: 'errCode', errCode: 14 }, 502, 'OPENIM_REJECTED'],
    [{ kind: 'html' }, 502, 'OPENIM_BAD_RESPONSE'],
    [{ kind: 'empty' }, 502, 'OPENIM_BAD_RESPONSE'],
    [{ kind: 'text', body: 'not json' }, 502, 'OPENIM_BAD_RESPONSE'],
    [{ kind: 'drop' }, 503, 'OPENIM_UNAVAILABLE'],
    [{ kind: 'hang' }, 504, 'OPENIM_TIMEOUT']
  ] as const
  for (const [fault, status, code] of rows) {
    emulator.injectFault('/user/account_check', fault)
    const response = await provision(app, { userID: 'dave', platformID: 5 }, { 'x-request-id': `row-${code}` })
    t.equal(response.statusCode, status, `${JSON.stringify(fault)} → ${status}`)
    const body = response.json()
    t.equal(body.code, code)
    t.equal(body.requestId, `row-${code}`)
    t.notMatch(response.body, /panic|user\.go|stack/, 'never errDlt')
    if (code === 'OPENIM_REJECTED') t.match(body, { openimErrCode: fault.kind === 'errCode' ? fault.errCode : 0 })
  }
  // Another user: dave's flow may still wait on the hung call above (undici's timers are coarse), and a new
  // caller for the same pair would queue behind it.
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1001 })
  t.match((await provision(app, { userID: 'dave_2', platformID: 5 })).json(), { openimErrCode: 1001, openimErrMsg: 'ArgsError' })
})

t.test('an answer larger than OpenIM ever gives is 502 OPENIM_BAD_RESPONSE, read no further, and the next call is answered', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'dave', platformID: 1 })
  emulator.resetCounts()
  emulator.injectFault('/user/account_check', { kind: 'oversized', bytes: MAX_ANSWER_BYTES + 1024 * 1024 })
  const response = await provision(app, { userID: 'dave', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.equal(response.json().code, 'OPENIM_BAD_RESPONSE')
  t.match(response.json().message, /larger than 8 MiB/)
  const next = await provision(app, { userID: 'dave', platformID: 5 })
  t.equal(next.statusCode, 200)
  t.equal(emulator.callCount('/user/account_check'), 2, 'the oversized answer and the next one')
})

t.test('a wrong secret is 502 OPENIM_AUTH_FAILED, logged loudly, and the gateway keeps serving', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { OPENIM_SECRET: 'not-the-secret' })
  const response = await provision(app, { userID: 'erin', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.equal(response.json().code, 'OPENIM_AUTH_FAILED')
  t.ok(logs.records.some((line) => line.level === 50 && /OPENIM_SECRET/.test(String(line.msg))), 'an error-level log line names the setting')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

t.test('an OPENIM_API_URL path OpenIM does not have is 502 naming the path and the setting, logged at error level', async (t) => {
  for (const mode of ['legacy', 'current'] as const) {
    const emulator = await startOpenIm(t, { mode })
    const { app, logs } = await buildGateway(t, `${emulator.url}/api`)
    const response = await provision(app, { userID: 'gail', platformID: 5 })
    t.equal(response.statusCode, 502, mode)
    t.match(response.json(), { code: 'OPENIM_BAD_RESPONSE', message: /^OpenIM has no \/auth\/(get_admin_token|user_token) at OPENIM_API_URL \(not found\); the operator must check OPENIM_API_URL/ }, mode)
    t.notMatch(response.json().message, / to \//, 'no "check OPENIM_API_URL to /auth/…"')
    t.match(logs.records.filter((line) => line.level === 50), [{ msg: /OPENIM_API_URL is wrong/, path: /^\/auth\// }], 'one error-level line naming the setting')
  }
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/account_check', { kind: 'text', status: 404, body: '404 page not found' })
  const missing = await provision(app, { userID: 'gail', platformID: 5 })
  t.match(missing.json(), { code: 'OPENIM_BAD_RESPONSE', message: /^OpenIM has no \/user\/account_check at OPENIM_API_URL/ }, 'any route gin does not have')
})

t.test('OpenIM down: 503 on requests, never a crash', async (t) => {
  const { app } = await buildGateway(t, 'http://127.0.0.1:9')
  const response = await provision(app, { userID: 'frank', platformID: 5 })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'OPENIM_UNAVAILABLE')
  t.equal(response.headers['retry-after'], '5', 'with Retry-After, like every 503 of the gateway')
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' })
})

t.test('registration races: 1102 and a 500 after someone else registered both end in success', async (t) => {
  for (const errCode of [1102, 500, 1003]) {
    const emulator = await startOpenIm(t)
    const { app } = await buildGateway(t, emulator.url)
    emulator.injectFault('/user/user_register', { kind: 'errCode', errCode, afterEffect: true })
    const response = await provision(app, { userID: 'gina', platformID: 5 })
    t.equal(response.statusCode, 200, `errCode ${errCode}`)
    t.equal(response.json().created, false)
    t.equal(emulator.callCount('/user/account_check'), 2, 're-checked')
  }
})

t.test('a 500 on registration that is not a race is reported', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 500 })
  const response = await provision(app, { userID: 'hank', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 500 })
})

t.test('a user account_check still calls unregistered after registering is a bad response, and no token is returned', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  const unregistered = '{"errCode":0,"errMsg":"","errDlt":"","data":{"results":[{"userID":"ivy","accountStatus":0}]}}'
  emulator.injectFault('/user/account_check', { kind: 'text', body: unregistered }, 2)
  emulator.injectFault('/user/user_register', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":""}' })
  const response = await provision(app, { userID: 'ivy', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.match(response.json(), { code: 'OPENIM_BAD_RESPONSE', message: 'OpenIM reports the user unregistered right after registering it (/user/account_check)' })
  t.equal(emulator.callCount('/auth/get_user_token'), 0)
})

t.test('50 concurrent provisions of one new user: one registration and one mint upstream, one token for all', async (t) => {
  const emulator = await startOpenIm(t, { latencyMs: 5 })
  const { app } = await buildGateway(t, emulator.url)
  const responses = await Promise.all(Array.from({ length: 50 }, () => provision(app, { userID: 'jack', platformID: 5 })))
  t.equal(emulator.callCount('/user/user_register'), 1)
  t.equal(emulator.callCount('/auth/get_user_token'), 1)
  t.equal(new Set(responses.map((response) => response.json().token)).size, 1)
  t.ok(responses.every((response) => response.statusCode === 201))
  const parsed = await openImCall(emulator.url, '/auth/parse_token', { token: responses[0]!.json().token })
  t.equal(parsed.json?.errCode, 0, 'the shared token is alive')
})

t.test('the public OpenIM addresses are returned when configured', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OPENIM_PUBLIC_API_URL: 'https://im.example.com/api', OPENIM_PUBLIC_WS_URL: 'wss://im.example.com/msg_gateway' })
  const body = (await provision(app, { userID: 'kate', platformID: 5 })).json()
  t.equal(body.apiAddr, 'https://im.example.com/api')
  t.equal(body.wsAddr, 'wss://im.example.com/msg_gateway')
  const { app: plain } = await buildGateway(t, emulator.url)
  t.notOk('apiAddr' in (await provision(plain, { userID: 'kate', platformID: 5 })).json())
})

t.test('x-request-id is echoed and sent to OpenIM as operationID; a bad one is replaced', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  const response = await provision(app, { userID: 'liam', platformID: 5 }, { 'x-request-id': 'abc123' })
  t.equal(response.headers['x-request-id'], 'abc123')
  t.ok(emulator.recentCalls.length > 0)
  t.ok(emulator.recentCalls.every((call) => call.operationID === 'abc123'))
  t.ok(logs.records.some((line) => line.reqId === 'abc123'))
  const replaced = await provision(app, { userID: 'liam', platformID: 5 }, { 'x-request-id': 'bad id with spaces <script>' })
  t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/)
})

t.test('the secret and tokens never appear in a response or a log line', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'trace' })
  const ok = await provision(app, { userID: 'mia', platformID: 5 })
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1002, errDlt: `secret ${SECRET} rejected` })
  const failed = await provision(app, { userID: 'mia', platformID: 5 })
  const { app: wrong } = await buildGateway(t, emulator.url, { OPENIM_SECRET: `${SECRET}x` })
  const authFailed = await provision(wrong, { userID: 'mia', platformID: 5 })
  const adminTokens = emulator.recentCalls.map((call) => call.token).filter((token) => token !== undefined)
  for (const response of [ok, failed, authFailed]) {
    t.notMatch(response.body, SECRET)
    for (const token of adminTokens) t.notMatch(response.body, token)
  }
  t.ok(logs.lines.length > 5)
  t.notMatch(logs.text, SECRET, 'no secret in logs')
  t.notMatch(logs.text, ok.json().token, 'no user token in logs')
  for (const token of adminTokens) t.notMatch(logs.text, token, 'no admin token in logs')
})
