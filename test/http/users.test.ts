import t from 'tap'
import { SERVICE_KEY, buildGateway, post, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, signHs256 } from '../jwt.js'

type App = Awaited<ReturnType<typeof buildGateway>>['app']
const service = { 'x-api-key': SERVICE_KEY }
const getUser = (app: App, userID: string, headers: Record<string, string> = service) => app.inject({ url: `/users/${encodeURIComponent(userID)}`, headers })
const patchUser = (app: App, userID: string, payload: unknown, headers: Record<string, string> = service) =>
  app.inject({ method: 'PATCH', url: `/users/${encodeURIComponent(userID)}`, payload: payload as Record<string, unknown>, headers })

for (const mode of ['current', 'legacy'] as const) {
  t.test(`${mode}: GET /users/{userID} answers the OpenIM profile with an ISO createTime; unknown is 404 USER_NOT_FOUND`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    const before = Date.now()
    await post(app, '/users/import', { users: [{ userID: 'ann', nickname: 'Ann', faceURL: 'https://x.example/a.png', ex: '{"team":1}' }] })
    const response = await getUser(app, 'ann')
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.same(Object.keys(body).sort(), ['createTime', 'ex', 'faceURL', 'nickname', 'userID'])
    t.match(body, { userID: 'ann', nickname: 'Ann', faceURL: 'https://x.example/a.png', ex: '{"team":1}' })
    t.ok(Math.abs(Date.parse(body.createTime) - before) < 5000 && body.createTime.endsWith('Z'), 'createTime is ISO 8601')
    const missing = await getUser(app, 'nobody')
    t.equal(missing.statusCode, 404)
    t.match(missing.json(), { code: 'USER_NOT_FOUND', requestId: missing.headers['x-request-id'] })
  })

  t.test(`${mode}: PATCH /users/{userID} changes only what is sent, "" clears faceURL and ex, and answers the new profile`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    await post(app, '/users/import', { users: [{ userID: 'ann', nickname: 'Ann', faceURL: 'https://x.example/a.png', ex: 'x' }] })
    const renamed = await patchUser(app, 'ann', { nickname: 'Annie' })
    t.equal(renamed.statusCode, 200)
    t.match(renamed.json(), { userID: 'ann', nickname: 'Annie', faceURL: 'https://x.example/a.png', ex: 'x' })
    const cleared = await patchUser(app, 'ann', { faceURL: '', ex: '' })
    t.match(cleared.json(), { nickname: 'Annie', faceURL: '', ex: '' })
    t.match(emulator.users.get('ann'), { nickname: 'Annie', faceURL: '', ex: '' }, 'OpenIM holds it')
    const missing = await patchUser(app, 'nobody', { nickname: 'N' })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'USER_NOT_FOUND')
  })
}

t.test('users registered under older rules keep working (no format check on GET or PATCH)', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.addUser('user-1.old', { nickname: 'Old', createTime: 1_600_000_000 })
  t.equal((await getUser(app, 'user-1.old')).json().createTime, '2020-09-13T12:26:40.000Z')
  t.equal((await patchUser(app, 'user-1.old', { nickname: 'Still here' })).statusCode, 200)
})

t.test('values that break the rules are 400 INVALID_REQUEST and reach no OpenIM', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const cases: Array<[unknown, RegExp]> = [
    [{}, /fewer than 1 properties/],
    [{ nickname: '' }, /nickname/],
    [{ nickname: '   ' }, /nickname/],
    [{ nickname: 'bell\u0007' }, /nickname/],
    [{ nickname: 'evil\u202Egnp.exe' }, /nickname/],
    [{ nickname: 'n'.repeat(256) }, /nickname/],
    [{ faceURL: 'javascript:alert(1)' }, /faceURL/],
    [{ faceURL: 'https://x.example/a b.png' }, /faceURL/],
    [{ ex: 'e'.repeat(8193) }, /ex/],
    [{ appMangerLevel: 3 }, /additional properties: "appMangerLevel"/]
  ]
  for (const [body, message] of cases) {
    const response = await patchUser(app, 'ann', body)
    t.equal(response.statusCode, 400, JSON.stringify(body).slice(0, 40))
    t.equal(response.json().code, 'INVALID_REQUEST')
    t.match(response.json().message, message)
  }
  t.equal((await getUser(app, 'a'.repeat(65))).statusCode, 400)
  t.equal(emulator.callCount('/user/update_user_info_ex') + emulator.callCount('/user/get_users_info'), 0)
})

t.test('reserved IDs are 403 RESERVED_USER_ID before OpenIM is asked', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OPENIM_RESERVED_USER_IDS: 'system_bot' })
  for (const userID of ['imAdmin', 'system_bot']) {
    t.match((await getUser(app, userID)).json(), { statusCode: 403, code: 'RESERVED_USER_ID' }, userID)
    t.match((await patchUser(app, userID, { nickname: 'Boss' })).json(), { statusCode: 403, code: 'RESERVED_USER_ID' }, userID)
  }
  t.equal(emulator.callCount('/user/update_user_info_ex') + emulator.callCount('/user/get_users_info'), 0)
})

t.test('end users get 403 FORBIDDEN, even for themselves; services and AUTH_DISABLED callers are served', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  await post(app, '/users/import', { users: [{ userID: 'ann' }] })
  const bearer = { authorization: `Bearer ${await signHs256({ sub: 'ann' })}` }
  for (const response of [
    await getUser(app, 'ann', bearer),
    await patchUser(app, 'ann', { nickname: 'Me' }, bearer),
    await post(app, '/users/import', { users: [{ userID: 'ann' }] }, bearer)
  ]) {
    t.equal(response.statusCode, 403)
    t.match(response.json(), { code: 'FORBIDDEN', message: /only services/ })
  }
  t.equal(emulator.users.get('ann')?.nickname, 'ann')
  t.equal((await getUser(app, 'ann', {})).statusCode, 401, 'no credentials')
  const { app: open } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true' })
  t.equal((await getUser(open, 'ann', {})).statusCode, 200, 'anonymous when AUTH_DISABLED=true')
})

t.test('OpenIM failures keep their usual errors', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await post(app, '/users/import', { users: [{ userID: 'ann' }] })
  emulator.injectFault('/user/get_users_info', { kind: 'html' })
  t.match((await getUser(app, 'ann')).json(), { statusCode: 502, code: 'OPENIM_BAD_RESPONSE' })
  emulator.injectFault('/user/update_user_info_ex', { kind: 'errCode', errCode: 1002, errDlt: 'stack trace here' })
  const refused = await patchUser(app, 'ann', { nickname: 'X' })
  t.match(refused.json(), { statusCode: 502, code: 'OPENIM_REJECTED', openimErrCode: 1002 })
  t.notMatch(refused.body, /stack trace/)
})
