import { SignJWT, decodeJwt } from 'jose'
import t from 'tap'
import { EMULATOR_MODES } from '../../src/emulator/modes.js'
import { ADMIN, SECRET, adminToken, openImCall, startOpenIm } from '../helper.js'

// Where the OpenIM versions differ, as their sources show (open-im-server v3.7.1, v3.8.0, v3.8.3-patch.15;
// protocol v0.0.65/69/73; tools). The gateway's tests lean on these answers.

const register = (url: string, users: unknown[], token?: string) =>
  openImCall(url, '/user/user_register', { secret: SECRET, users }, token === undefined ? {} : { token })

t.test('v3.8.0: the legacy API behind v3.8\'s global token check', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const probe = await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN })
  t.same(probe.json, { errCode: 1001, errMsg: 'ArgsError', errDlt: 'header must have token' }, 'an unknown route without a token')
  const checkWithoutToken = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: [] })
  t.equal(checkWithoutToken.json?.errDlt, 'header must have token', 'a non-public route without a token')
  const admin = await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, platformID: 10, userID: ADMIN })
  t.equal(admin.json?.errCode, 0, 'user_token is public and mints the admin token with the secret')
  t.equal((await register(emulator.url, [{ userID: 'alice', nickname: 'A' }])).json?.errCode, 0, 'user_register is public')
  t.equal((await openImCall(emulator.url, '/auth/parse_token', { token: admin.json?.data.token })).json?.errCode, 0, 'parse_token is public')
  const unknown = await openImCall(emulator.url, '/auth/get_admin_token', {}, { token: admin.json?.data.token })
  t.equal(unknown.status, 404, 'with a valid token, an unknown route is gin\'s plain 404')
  t.equal(unknown.text, '404 page not found')
  const prefixed = await openImCall(emulator.url, '/auth/user_token_x', {})
  t.equal(prefixed.status, 404, 'the whitelist matches by prefix, as upstream\'s strings.HasPrefix')
})

t.test('v3.8.0: user_register refuses IDs outside letters, digits and "_" with 1001 "userID is legal", before the secret', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  for (const userID of ['user-1', 'a.b@c', '550e8400-e29b-41d4-a716-446655440000']) {
    const reply = await register(emulator.url, [{ userID, nickname: 'n' }])
    t.same(reply.json, { errCode: 1001, errMsg: 'ArgsError', errDlt: 'userID is legal' }, userID)
  }
  const wrongSecret = await openImCall(emulator.url, '/user/user_register', { secret: 'wrong', users: [{ userID: 'a-b', nickname: 'n' }] })
  t.equal(wrongSecret.json?.errCode, 1001, 'Check() runs before the RPC\'s secret check')
  t.equal((await register(emulator.url, [{ userID: 'émile_2', nickname: 'n' }])).json?.errCode, 0)
  const legacy = await startOpenIm(t, { mode: 'legacy' })
  t.equal((await register(legacy.url, [{ userID: 'user-1', nickname: 'n' }])).json?.errCode, 0, 'v3.7 accepts it')
})

t.test('a null user in user_register: 1001 "user is empty" from v3.8.0; v3.7 panics (HTTP 500, empty body)', async (t) => {
  const v380 = await startOpenIm(t, { mode: 'v3.8.0' })
  t.same((await register(v380.url, [null])).json, { errCode: 1001, errMsg: 'ArgsError', errDlt: 'user is empty' })
  const legacy = await startOpenIm(t, { mode: 'legacy' })
  const panic = await register(legacy.url, [null])
  t.same([panic.status, panic.text], [500, ''])
  t.same((await register(legacy.url, [{ userID: 'a', nickname: '' }])).json?.errDlt, 'User name is empty', 'protocol v0.0.65\'s wording')
})

t.test('v3.8.0: string account statuses; minting does not kick the earlier token', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  await register(emulator.url, [{ userID: 'alice', nickname: 'A' }])
  const check = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['alice', 'bob'] }, { token: await adminToken(emulator) })
  t.same(check.json?.data.results, [{ userID: 'alice', accountStatus: 'registered' }, { userID: 'bob', accountStatus: 'unregistered' }])
  const mint = () => openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: 'alice', platformID: 5 })
  const first = (await mint()).json?.data.token
  emulator.advanceClock(1)
  await mint()
  t.equal((await openImCall(emulator.url, '/auth/parse_token', { token: first })).json?.errCode, 0)
})

t.test('an unknown user on mint is 1101 up to v3.8.2 and 1004 on v3.8.3; force_logout does not look the user up', async (t) => {
  const expected = { current: 1004, 'v3.8.0': 1101, legacy: 1101 } as const
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const token = await adminToken(emulator)
    const viaAdmin = await openImCall(emulator.url, '/auth/get_user_token', { userID: 'nobody', platformID: 5 }, { token })
    t.equal(viaAdmin.json?.errCode, expected[mode], `${mode}: get_user_token`)
    if (emulator.api === 'legacy') {
      const viaSecret = await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: 'nobody', platformID: 5 })
      t.same(viaSecret.json, { errCode: 1101, errMsg: 'UserIDNotFoundError', errDlt: 'nobody' }, `${mode}: user_token`)
    }
    const logout = await openImCall(emulator.url, '/auth/force_logout', { userID: 'nobody', platformID: 5 }, { token })
    t.equal(logout.json?.errCode, 0, `${mode}: force_logout`)
  }
})

t.test('empty successes: "data": null up to v3.8.0, exactly three keys from v3.8.1', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const token = await adminToken(emulator)
    const registered = await register(emulator.url, [{ userID: 'alice', nickname: 'A' }], emulator.api === 'current' ? token : undefined)
    const logout = await openImCall(emulator.url, '/auth/force_logout', { userID: 'alice', platformID: 5 }, { token })
    const expected = mode === 'current' ? { errCode: 0, errMsg: '', errDlt: '' } : { errCode: 0, errMsg: '', errDlt: '', data: null }
    t.same(registered.json, expected, `${mode}: user_register`)
    t.same(logout.json, expected, `${mode}: force_logout`)
  }
})

t.test('legacy (v3.7): operationID is checked before routing, the token on each route only', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const withoutOperationID = await openImCall(emulator.url, '/no/such/route', {}, { operationID: '' })
  t.same([withoutOperationID.status, withoutOperationID.json?.errCode], [200, 1001])
  const withOperationID = await openImCall(emulator.url, '/no/such/route', {})
  t.same([withOperationID.status, withOperationID.text], [404, '404 page not found'], 'no token needed to reach the 404')
})

t.test('OPTIONS on any path is 200 "Options Request!"; JSON answers are application/json without a charset', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    for (const path of ['/user/account_check', '/no/such/route']) {
      const preflight = await fetch(emulator.url + path, { method: 'OPTIONS' })
      t.equal(preflight.status, 200, `${mode} ${path}`)
      t.equal(await preflight.text(), '"Options Request!"')
      t.equal(preflight.headers.get('access-control-allow-origin'), '*')
    }
    const reply = await fetch(emulator.url + '/auth/parse_token', { method: 'POST', headers: { operationID: 'op' }, body: '{}' })
    t.equal(reply.headers.get('content-type'), 'application/json', mode)
  }
})

t.test('Check() runs before the admin check: a non-admin with an invalid body gets 1001, not 1002', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const admin = await adminToken(emulator)
    await register(emulator.url, [{ userID: 'alice', nickname: 'A' }], emulator.api === 'current' ? admin : undefined)
    const user = (await openImCall(emulator.url, '/auth/get_user_token', { userID: 'alice', platformID: 5 }, { token: admin })).json?.data.token
    const call = (path: string, body: unknown, token = user) => openImCall(emulator.url, path, body, { token })
    const checkText = mode === 'current' ? '' : 'CheckUserIDs is empty'
    t.same((await call('/user/account_check', {})).json, { errCode: 1001, errMsg: 'ArgsError', errDlt: checkText }, mode)
    t.equal((await call('/user/account_check', { checkUserIDs: ['a', 'a'] })).json?.errCode, 1001, `${mode}: duplicates before the admin check`)
    t.equal((await call('/auth/force_logout', { userID: 'alice', platformID: 0 })).json?.errCode, 1001)
    t.equal((await call('/auth/force_logout', { userID: 'alice', platformID: 5 })).json?.errCode, 1002, 'a valid body reaches the admin check')
    t.equal((await call('/user/account_check', { checkUserIDs: [] }, admin)).json?.errCode, 0, 'an empty list is not a missing one')
  }
})

t.test('parse_token with an empty token is 1001', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const errDlt = mode === 'current' ? '' : 'userID is empty'
    t.same((await openImCall(emulator.url, '/auth/parse_token', { token: '' })).json, { errCode: 1001, errMsg: 'ArgsError', errDlt }, mode)
  }
})

t.test('token claims: iat = now − 5 s and no nbf on v3.8.3; nbf = now − 5 min up to v3.8.0', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const before = Math.floor(Date.now() / 1000)
    const claims = decodeJwt(await adminToken(emulator))
    const after = Math.floor(Date.now() / 1000)
    t.same(Object.keys(claims), mode === 'current' ? ['UserID', 'PlatformID', 'exp', 'iat'] : ['UserID', 'PlatformID', 'exp', 'nbf', 'iat'], mode)
    const issued = mode === 'current' ? claims.iat! + 5 : claims.iat!
    t.ok(issued >= before && issued <= after, `${mode}: iat`)
    if (mode !== 'current') t.equal(claims.nbf, claims.iat! - 300)
    t.equal(claims.exp, issued + 90 * 86400)
  }
})

t.test('v3.8.3: the token-status check is skipped for the admin userID on any platform, and only for it', async (t) => {
  const emulator = await startOpenIm(t)
  const key = new TextEncoder().encode(SECRET)
  const now = Math.floor(Date.now() / 1000)
  const sign = (UserID: string, PlatformID: number) =>
    new SignJWT({ UserID, PlatformID, exp: now + 60, iat: now - 5 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key)
  const check = async (token: string) => (await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { token })).json?.errCode
  t.equal(await check(await sign(ADMIN, 3)), 0, 'an unstored admin token on platform 3 is accepted')
  emulator.addUser('alice')
  t.equal(await check(await sign('alice', 10)), 1507, 'platform 10 alone does not bypass the check')
  const legacy = await startOpenIm(t, { mode: 'v3.8.0' })
  t.equal((await openImCall(legacy.url, '/user/account_check', { checkUserIDs: ['a'] }, { token: await sign(ADMIN, 10) })).json?.errCode, 1507,
    'up to v3.8.0 admin tokens are stored and checked like any other')
})

t.test('v3.8.3 refuses tokens for app accounts (appMangerLevel ≥ 3) with 1001; v3.8.0 mints them', async (t) => {
  const current = await startOpenIm(t)
  const token = await adminToken(current)
  await register(current.url, [{ userID: 'notifier', nickname: 'N', appMangerLevel: 3 }], token)
  const refused = await openImCall(current.url, '/auth/get_user_token', { userID: 'notifier', platformID: 5 }, { token })
  t.same(refused.json, { errCode: 1001, errMsg: 'ArgsError', errDlt: 'app account can`t get token' })
  const older = await startOpenIm(t, { mode: 'v3.8.0' })
  await register(older.url, [{ userID: 'notifier', nickname: 'N', appMangerLevel: 3 }])
  t.equal((await openImCall(older.url, '/auth/user_token', { secret: SECRET, userID: 'notifier', platformID: 5 })).json?.errCode, 0)
})

t.test('a user an older version registered (user-1) keeps getting tokens and can be logged out on v3.8.3', async (t) => {
  const emulator = await startOpenIm(t)
  emulator.addUser('user-1')
  const token = await adminToken(emulator)
  const minted = await openImCall(emulator.url, '/auth/get_user_token', { userID: 'user-1', platformID: 5 }, { token })
  t.equal(minted.json?.errCode, 0, 'minting only requires that the user exists')
  await openImCall(emulator.url, '/auth/force_logout', { userID: 'user-1', platformID: 5 }, { token })
  t.equal((await openImCall(emulator.url, '/auth/parse_token', { token: minted.json?.data.token })).json?.errCode, 1506)
})

t.test('v3.8.3: the API layer\'s own errors carry no text (errDlt ""); the services\' errors keep their detail', async (t) => {
  // tools v0.0.50-alpha.67 (v3.8.3) apiresp.ParseError answers the CodeError's detail, which errs.WrapMsg leaves
  // empty; the middleware (internal/api/router.go GinParseToken, tools mw.GinParseOperationID) and
  // checker.Validate wrap with WrapMsg. Up to v3.8.2 the detail falls back to err.Error().
  const emulator = await startOpenIm(t)
  const empty = { errCode: 1001, errMsg: 'ArgsError', errDlt: '' }
  t.same((await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: ADMIN, platformID: 10 })).json, empty,
    'a route v3.8.3 does not have, without a token: the token middleware answers, with nothing to match')
  t.same((await openImCall(emulator.url, '/no/such/route', {})).json, empty, 'any path at all')
  t.same((await openImCall(emulator.url, '/user/account_check', {}, { operationID: '' })).json, empty, 'no operationID')
  t.same((await openImCall(emulator.url, '/auth/force_logout', { userID: '', platformID: 5 }, { token: await adminToken(emulator) })).json, empty,
    'a request\'s Check()')
  const wrongSecret = await openImCall(emulator.url, '/auth/get_admin_token', { secret: 'wrong', userID: ADMIN })
  t.same(wrongSecret.json, { errCode: 1002, errMsg: 'NoPermissionError', errDlt: 'secret invalid' }, 'the auth service\'s own error')
  const legacy = await startOpenIm(t, { mode: 'v3.8.0' })
  t.equal((await openImCall(legacy.url, '/no/such/route', {})).json?.errDlt, 'header must have token', 'v3.8.0 still says why')
})

t.test('switchMode: OpenIM upgraded in place keeps its users and the tokens it stored, and answers as the new version', async (t) => {
  for (const from of ['legacy', 'v3.8.0'] as const) {
    const emulator = await startOpenIm(t, { mode: from })
    await register(emulator.url, [{ userID: 'alice', nickname: 'A' }])
    const legacyAdmin = await adminToken(emulator)
    const alice = (await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: 'alice', platformID: 5 })).json?.data.token
    emulator.switchMode('current')
    t.equal(emulator.mode, 'current')
    t.equal(emulator.api, 'current')
    t.ok(emulator.users.has('alice'), `${from}: users stay`)
    t.equal((await openImCall(emulator.url, '/auth/parse_token', { token: alice })).json?.errCode, 0, `${from}: a stored user token stays valid`)
    const check = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['alice'] }, { token: legacyAdmin })
    t.equal(check.json?.errCode, 0, `${from}: the old admin token passes v3.8.2+'s admin bypass`)
    t.same((await openImCall(emulator.url, '/auth/user_token', { secret: SECRET, userID: ADMIN, platformID: 10 })).json,
      { errCode: 1001, errMsg: 'ArgsError', errDlt: '' }, `${from}: /auth/user_token is gone`)
    t.equal((await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN })).json?.errCode, 0)
  }
})

t.test('switchMode back: an admin token v3.8.2+ never stored is unknown (1507) to v3.8.0 and v3.7', async (t) => {
  for (const to of ['v3.8.0', 'legacy'] as const) {
    const emulator = await startOpenIm(t)
    const currentAdmin = await adminToken(emulator)
    emulator.switchMode(to)
    const check = await openImCall(emulator.url, '/user/account_check', { checkUserIDs: ['a'] }, { token: currentAdmin })
    t.equal(check.json?.errCode, 1507, to)
    const probe = await openImCall(emulator.url, '/auth/get_admin_token', { secret: SECRET, userID: ADMIN })
    t.same(to === 'legacy' ? [probe.status, probe.text] : [probe.status, probe.json?.errCode], to === 'legacy' ? [404, '404 page not found'] : [200, 1001])
  }
})

t.test('up to v3.8.0 every admin-token mint is one more token OpenIM stores; v3.8.2+ store none', async (t) => {
  // internal/rpc/auth/auth.go:112-117 at v3.7.1/v3.8.0 (parseToken) reads them all (HGETALL TOKEN:<admin>:10) on every admin call.
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    for (let second = 0; second < 3; second++) {
      await adminToken(emulator)
      emulator.advanceClock(1)
    }
    t.equal(emulator.tokens.storedCount(ADMIN, 10), mode === 'current' ? 0 : 3, mode)
  }
})
