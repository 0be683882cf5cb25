import t from 'tap'
import { EMULATOR_MODES } from '../../src/emulator/modes.js'
import { buildGateway, openImCall, post, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

// OpenIM checks a userID's format only when registering it; minting and force_logout only need the user
// to exist. The gateway follows: the format rule is for new users, and OpenIM's own answers about users
// (unknown, refused) become the caller's errors, not OpenIM failures.

const registered = (userID: string, accountStatus: number | string) =>
  JSON.stringify({ errCode: 0, errMsg: '', errDlt: '', data: { results: [{ userID, accountStatus }] } })

for (const mode of ['current', 'v3.8.0'] as const) {
  t.test(`${mode}: users an older OpenIM registered (user-1, a.b@c) get tokens and can be revoked`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    for (const userID of ['user-1', 'a.b@c', '550e8400-e29b-41d4-a716-446655440000']) {
      emulator.addUser(userID)
      const provisioned = await provision(app, { userID, platformID: 5 })
      t.equal(provisioned.statusCode, 200, userID)
      t.equal(provisioned.json().created, false)
      const token = provisioned.json().token
      t.equal((await openImCall(emulator.url, '/auth/parse_token', { token })).json?.errCode, 0, 'a token OpenIM accepts')
      const revoked = await post(app, '/revoke', { userID, platformID: 5 })
      t.equal(revoked.statusCode, 200)
      t.equal((await openImCall(emulator.url, '/auth/parse_token', { token })).json?.errCode, 1506, 'and it is revoked')
    }
    t.equal(emulator.callCount('/user/user_register'), 0)
  })
}

t.test('a new userID that breaks the v3.8 rule is refused on current before any registration, after one account_check', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  emulator.resetCounts()
  const refused = await provision(app, { userID: 'user-2', platformID: 5 })
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { code: 'INVALID_USER_ID', message: /letters, digits and "_"/ })
  t.same(emulator.recentCalls.map((call) => call.path), ['/user/account_check'])
})

t.test('v3.8.0 refusing a new userID is 400 INVALID_USER_ID naming the rule, not 502', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const { app } = await buildGateway(t, emulator.url)
  const refused = await provision(app, { userID: 'user-2', platformID: 5 })
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { code: 'INVALID_USER_ID', message: /v3\.8\.0\+ accepts only letters, digits and "_"/ })
  t.notOk('openimErrCode' in refused.json())
  t.equal(emulator.callCount('/user/user_register'), 1, 'OpenIM itself refused it')
  t.notOk(emulator.users.has('user-2'))
  const legacy = await startOpenIm(t, { mode: 'legacy' })
  const { app: legacyApp } = await buildGateway(t, legacy.url)
  t.equal((await provision(legacyApp, { userID: 'user-2', platformID: 5 })).statusCode, 201, 'v3.7 registers it')
})

t.test('v3.8.0 refusing an end user\'s subject points at JWT_USER_ID_MAPPING', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE, OPENIM_API_MODE: 'legacy' })
  const refused = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'auth0-5f7c8ec7' })))
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { code: 'INVALID_USER_ID', message: /letters, digits and "_".*JWT_USER_ID_MAPPING=hash/ })
})

t.test('a user OpenIM does not know when minting is 404 USER_NOT_FOUND (1101 up to v3.8.2, 1004 on v3.8.3)', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    await app.openim.connectedGeneration({ operationID: 'warm-up' })
    // account_check saw the user; by the time of the mint, it is gone (deleted, or a stale OpenIM cache).
    emulator.injectFault('/user/account_check', { kind: 'text', body: registered('ghost', mode === 'current' ? 1 : 'registered') })
    const response = await provision(app, { userID: 'ghost', platformID: 5 })
    t.equal(response.statusCode, 404, mode)
    t.match(response.json(), { code: 'USER_NOT_FOUND', message: mode === 'current' ? /errCode 1004/ : /errCode 1101/ })
  }
})

t.test('OpenIM\'s force_logout does not look the user up: revoking an unknown user is a 200 with nothing to do', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await post(app, '/revoke', { userID: 'nobody', platformID: 5 })
  t.equal(response.statusCode, 200)
  t.equal(emulator.callCount('/auth/force_logout'), 1)
})

t.test('a missing admin account (1004 on get_admin_token) is OPENIM_AUTH_FAILED, never USER_NOT_FOUND', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OPENIM_API_MODE: 'current' })
  emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', errCode: 1004, errDlt: 'user not found' })
  const response = await provision(app, { userID: 'alice', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.equal(response.json().code, 'OPENIM_AUTH_FAILED')
})

t.test('v3.8.3 refuses tokens for app accounts: no token, OPENIM_REJECTED with its 1001', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.addUser('notifier', { appMangerLevel: 3 })
  const response = await provision(app, { userID: 'notifier', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 1001 })
  t.notOk('token' in response.json())
})

t.test('a userID no OpenIM version holds (with ":") is refused before any call, on /provision and /revoke', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const url of ['/provision', '/revoke']) {
    const response = await post(app, url, { userID: 'a:b', platformID: 5 })
    t.equal(response.statusCode, 400, url)
    t.match(response.json(), { code: 'INVALID_USER_ID', message: /":"/ })
  }
  t.equal(emulator.callCount(), 0)
})
