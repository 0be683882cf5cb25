import t from 'tap'
import { EMULATOR_MODES } from '../../src/emulator/modes.js'
import { ADMIN, SECRET, adminToken, openImCall, startOpenIm } from '../helper.js'

// The emulator checked against shared/openim/CONTRACT.md: when it is wrong, every other test lies.

t.test('every call needs an operationID header, checked before anything else', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const reply = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { operationID: '' })
    t.equal(reply.status, 200, mode)
    // v3.8.3 answers the API layer's own errors with an empty errDlt (see the test in versions.test.ts).
    t.same(reply.json, { errCode: 1001, errMsg: 'ArgsError', errDlt: mode === 'current' ? '' : 'header must have operationID' }, mode)
  }
})

t.test('admin routes need the token header, literally named token', async (t) => {
  const emulator = await startOpenIm(t)
  const token = await adminToken(emulator)
  const withoutToken = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] })
  t.same(withoutToken.json, { errCode: 1001, errMsg: 'ArgsError', errDlt: '' })
  const withAuthorization = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { authorization: token })
  t.equal(withAuthorization.json?.errCode, 1001)
  const withToken = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { token })
  t.equal(withToken.json?.errCode, 0)
})

t.test('current: get_admin_token checks the secret (1002) and the admin userID (1001)', async (t) => {
  const emulator = await startOpenIm(t)
  const ok = await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN })
  t.equal(ok.json?.errCode, 0)
  t.type(ok.json?.data.token, 'string')
  t.equal(ok.json?.data.expireTimeSeconds, 90 * 86400, 'expireTimeSeconds is the lifetime')
  t.equal((await openImCall(emulator.url, '/auth/get_admin_token', { secret: 'wrong', userID: ADMIN })).json?.errCode, 1002)
  t.equal((await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: 'alice' })).json?.errCode, 1001)
})

t.test('current: an unknown route passes the global middleware first, then is a plain-text 404', async (t) => {
  const emulator = await startOpenIm(t)
  const withoutToken = await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: ADMIN, platformID: 10 })
  t.equal(withoutToken.json?.errCode, 1001, '/auth/user_token is gone: the token middleware answers first')
  const withToken = await openImCall(emulator.url, '/auth/user_token', {}, { token: await adminToken(emulator) })
  t.equal(withToken.status, 404)
  t.equal(withToken.text, '404 page not found')
})

t.test('legacy: get_admin_token is unknown (plain 404) and /auth/user_token mints the admin token with the secret', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const probe = await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN })
  t.equal(probe.status, 404)
  t.equal(probe.text, '404 page not found')
  const admin = await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, platformID: 10, userID: ADMIN })
  t.equal(admin.json?.errCode, 0)
  t.equal((await openImCall(emulator.url, '/auth/user_token', { secret: 'wrong', platformID: 10, userID: ADMIN })).json?.errCode, 1002)
})

t.test('current: user_register needs an admin token and ignores a secret in the body', async (t) => {
  const emulator = await startOpenIm(t)
  const users = [{ userID: 'alice', nickname: 'Alice' }]
  t.equal((await openImCall(emulator.url, '/user/user_register', { secret: SECRET, users })).json?.errCode, 1001, 'secret alone is not enough')
  const reply = await openImCall(emulator.url, '/user/user_register', { secret: 'ignored', users }, { token: await adminToken(emulator) })
  t.same(reply.json, { errCode: 0, errMsg: '', errDlt: '' }, 'an empty success has no data key')
})

t.test('a user\'s own token cannot call admin routes (1002)', async (t) => {
  const emulator = await startOpenIm(t)
  const admin = await adminToken(emulator)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'Alice' }] }, { token: admin })
  const user = await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 5 }, { token: admin })
  const check = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['alice'] }, { token: user.json?.data.token })
  t.equal(check.json?.errCode, 1002)
})

t.test('legacy: user_register takes the secret and no token', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const users = [{ userID: 'alice-1.x', nickname: 'Alice' }]
  t.equal((await openImCall(emulator.url, '/user/user_register', { secret: 'wrong', users })).json?.errCode, 1002)
  t.equal((await openImCall(emulator.url, '/user/user_register', { secret: SECRET, users })).json?.errCode, 0, 'legacy accepts "-" and "."')
})

t.test('userID and nickname rules per generation (rejections are a misleading 1001)', async (t) => {
  const current = await startOpenIm(t)
  const token = await adminToken(current)
  for (const userID of ['a-b', 'a.b', 'a@b', 'a:b', 'a b', '', '550e8400-e29b-41d4-a716-446655440000']) {
    const reply = await openImCall(current.url, '/user/user_register', { users: [{ userID, nickname: 'n' }] }, { token })
    t.equal(reply.json?.errCode, 1001, `current refuses ${JSON.stringify(userID)}`)
  }
  t.equal((await openImCall(current.url, '/user/user_register', { users: [{ userID: 'émile_2', nickname: 'n' }] }, { token })).json?.errCode, 0, 'Unicode letters are fine')
  t.equal((await openImCall(current.url, '/user/user_register', { users: [{ userID: 'bob' }] }, { token })).json?.errCode, 1001, 'nickname required')

  const legacy = await startOpenIm(t, { mode: 'legacy' })
  t.equal((await openImCall(legacy.url, '/user/user_register', { secret: SECRET, users: [{ userID: 'a:b', nickname: 'n' }] })).json?.errCode, 1001)
})

t.test('registering an existing userID fails the whole batch with 1102 and inserts nothing', async (t) => {
  const emulator = await startOpenIm(t)
  const token = await adminToken(emulator)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'A' }] }, { token })
  const batch = await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'bob', nickname: 'B' }, { userID: 'alice', nickname: 'A' }] }, { token })
  t.equal(batch.json?.errCode, 1102)
  t.notOk(emulator.users.has('bob'))
})

t.test('account_check: string statuses on legacy, numbers on current, null for an empty list, 1001 on duplicates', async (t) => {
  const current = await startOpenIm(t)
  const token = await adminToken(current)
  await openImCall(current.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'A' }] }, { token })
  const reply = await openImCall(current.url, '/user/account_check', { checkUserIDs: ['bob', 'alice'] }, { token })
  t.same(reply.json?.data, { results: [{ userID: 'bob', accountStatus: 0 }, { userID: 'alice', accountStatus: 1 }] }, 'request order')
  t.same((await openImCall(current.url, '/user/account_check', { checkUserIDs: [] }, { token })).json?.data, { results: null })
  t.equal((await openImCall(current.url, '/user/account_check', { checkUserIDs: ['a', 'a'] }, { token })).json?.errCode, 1001)

  const legacy = await startOpenIm(t, { mode: 'legacy' })
  await openImCall(legacy.url, '/user/user_register', { secret: SECRET, users: [{ userID: 'alice', nickname: 'A' }] })
  const legacyReply = await openImCall(legacy.url, '/user/account_check', { checkUserIDs: ['alice', 'bob'] }, { token: await adminToken(legacy) })
  t.same(legacyReply.json?.data.results, [{ userID: 'alice', accountStatus: 'registered' }, { userID: 'bob', accountStatus: 'unregistered' }])
})

t.test('current get_user_token: admin only; platform 10 and admin userIDs refused (1002), unknown users 1004, platform 42 minted', async (t) => {
  const emulator = await startOpenIm(t)
  const token = await adminToken(emulator)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'A' }] }, { token })
  t.equal((await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 10 }, { token })).json?.errCode, 1002)
  t.equal((await openImCall(emulator.url, '/auth/get_user_token', { userID: ADMIN, platformID: 5 }, { token })).json?.errCode, 1002)
  t.equal((await openImCall(emulator.url, '/auth/get_user_token', { userID: 'nobody', platformID: 5 }, { token })).json?.errCode, 1004)
  t.equal((await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 42 }, { token })).json?.errCode, 0, 'barely validated upstream')
})

t.test('current: minting a token kicks the earlier token of the same user and platform (1506); legacy does not', async (t) => {
  for (const mode of ['current', 'legacy'] as const) {
    const emulator = await startOpenIm(t, { mode })
    const admin = await adminToken(emulator)
    await openImCall(emulator.url, '/user/user_register', { secret: SECRET, users: [{ userID: 'alice', nickname: 'A' }] }, { token: admin })
    const mint = () => openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 5 }, { token: admin })
    const first = (await mint()).json?.data.token
    emulator.advanceClock(1) // a JWT minted in the same second is the same string
    const second = (await mint()).json?.data.token
    t.not(first, second)
    const parse = (token: string) => openImCall(emulator.url, '/auth/parse_token', { token })
    t.equal((await parse(first)).json?.errCode, mode === 'current' ? 1506 : 0, `${mode}: first token after re-mint`)
    t.equal((await parse(second)).json?.errCode, 0)
  }
})

t.test('parse_token answers the absolute expiry; force_logout kicks tokens from v3.8.0 only', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const admin = await adminToken(emulator)
    await openImCall(emulator.url, '/user/user_register', { secret: SECRET, users: [{ userID: 'alice', nickname: 'A' }] }, { token: admin })
    const before = Math.floor(Date.now() / 1000)
    const token = (await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 2 }, { token: admin })).json?.data.token
    const after = Math.floor(Date.now() / 1000)
    const parsed = (await openImCall(emulator.url, '/auth/parse_token', { token })).json?.data
    t.equal(parsed.userID, 'alice')
    t.equal(parsed.platformID, 2)
    t.ok(parsed.expireTimeSeconds >= before + 90 * 86400 && parsed.expireTimeSeconds <= after + 90 * 86400, 'absolute Unix seconds')
    const logout = await openImCall(emulator.url, '/auth/force_logout', { userID: 'alice', platformID: 2 }, { token: admin })
    t.equal(logout.json?.errCode, 0)
    t.equal((await openImCall(emulator.url, '/auth/parse_token', { token })).json?.errCode, mode === 'legacy' ? 0 : 1506, mode)
    t.equal((await openImCall(emulator.url, '/auth/force_logout', { userID: 'alice', platformID: 11 }, { token: admin })).json?.errCode, 1001)
  }
})

t.test('tokens: bad signature 1505, malformed 1503, expired 1501, forgotten by OpenIM 1507', async (t) => {
  const emulator = await startOpenIm(t, { tokenLifetimeSeconds: 60 })
  const admin = await adminToken(emulator)
  const [header, payload] = admin.split('.')
  const check = (token: string) => openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { token })
  t.equal((await check(`${header}.${payload}.${'A'.repeat(43)}`)).json?.errCode, 1505)
  t.equal((await check('not-a-jwt')).json?.errCode, 1503)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'A' }] }, { token: admin })
  const user = (await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 5 }, { token: admin })).json?.data.token
  emulator.tokens.flush()
  t.equal((await openImCall(emulator.url, '/auth/parse_token', { token: user })).json?.errCode, 1507)
  emulator.advanceClock(120)
  t.equal((await check(admin)).json?.errCode, 1501)
})

t.test('bad JSON: the decoder text in errMsg; 1001 from v3.8.0 (errDlt "1001 <text>" on v3.8.0, empty on v3.8.3), 500 on v3.7', async (t) => {
  const expected = { current: [1001, ''], 'v3.8.0': [1001, '1001 '], legacy: [500, ''] } as const
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const reply = await openImCall(emulator.url, '/auth/parse_token', '{"token":')
    const [errCode, errDltPrefix] = expected[mode]
    t.equal(reply.json?.errCode, errCode, mode)
    t.match(reply.json?.errMsg, /JSON/, `${mode}: errMsg is the decoder's text`)
    t.equal(reply.json?.errDlt, errDltPrefix === '' ? '' : errDltPrefix + String(reply.json?.errMsg))
    t.notOk('data' in (reply.json ?? {}))
  }
})

t.test('JSON keys match case-insensitively; a wrongly typed field fails decoding', async (t) => {
  const current = await startOpenIm(t)
  t.equal((await openImCall(current.url, '/auth/get_admin_token', { SECRET, USERID: ADMIN })).json?.errCode, 0)
  const typed = await openImCall(current.url, '/auth/get_admin_token', { secret: SECRET, userID: 7 })
  t.equal(typed.json?.errCode, 1001, 'wrong type fails decoding')
  t.match(typed.json?.errMsg, /cannot unmarshal number/)
})

t.test('faults: errCode, HTML page, empty 500, plain text, dropped connection, hang, latency', async (t) => {
  const emulator = await startOpenIm(t)
  const path = '/auth/get_admin_token'
  const body = { secret: SECRET, userID: ADMIN }
  emulator.injectFault(path, { kind: 'errCode', errCode: 14 })
  t.equal((await openImCall(emulator.url, path, body)).json?.errCode, 14, 'a raw gRPC code')
  emulator.injectFault(path, { kind: 'html' })
  const html = await openImCall(emulator.url, path, body)
  t.equal(html.status, 502)
  t.match(html.text, /<html>/)
  emulator.injectFault(path, { kind: 'empty' })
  t.same([(await openImCall(emulator.url, path, body)).status, (await openImCall(emulator.url, path, body)).json?.errCode], [500, 0], 'one fault, then normal')
  emulator.injectFault(path, { kind: 'text', body: 'oops' })
  t.equal((await openImCall(emulator.url, path, body)).text, 'oops')
  emulator.injectFault(path, { kind: 'drop' })
  await t.rejects(openImCall(emulator.url, path, body))
  emulator.injectFault(path, { kind: 'hang' })
  await t.rejects(fetch(emulator.url + path, { method: 'POST', body: '{}', signal: AbortSignal.timeout(200) }))
  emulator.latencyMs = 100
  const started = Date.now()
  await openImCall(emulator.url, path, body)
  t.ok(Date.now() - started >= 95, 'latency applied')
})

t.test('an errCode fault with afterEffect does the work, then answers the error (a lost race)', async (t) => {
  const emulator = await startOpenIm(t)
  const token = await adminToken(emulator)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 500, afterEffect: true })
  const reply = await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'alice', nickname: 'A' }] }, { token })
  t.equal(reply.json?.errCode, 500)
  t.ok(emulator.users.has('alice'))
})

t.test('calls are counted and recorded with their operationID', async (t) => {
  const emulator = await startOpenIm(t)
  await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN }, { operationID: 'op-1' })
  t.equal(emulator.callCount('/auth/get_admin_token'), 1)
  t.equal(emulator.callCount(), 1)
  t.equal(emulator.recentCalls[0]?.operationID, 'op-1')
  emulator.resetCounts()
  t.equal(emulator.callCount(), 0)
})
