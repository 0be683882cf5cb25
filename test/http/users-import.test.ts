import t from 'tap'
import { SERVICE_KEY, buildGateway, post, provision, startOpenIm, userCount } from '../helper.js'

type App = Awaited<ReturnType<typeof buildGateway>>['app']
const importUsers = (app: App, users: unknown[], headers: Record<string, string> = {}) => post(app, '/users/import', { users }, headers)
const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => ({ userID: `${prefix}${i}` }))

for (const mode of ['current', 'legacy'] as const) {
  t.test(`${mode}: a mixed batch answers per user in order; only new, valid users are registered`, async (t) => {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url, { OPENIM_RESERVED_USER_IDS: 'system_bot' })
    await provision(app, { userID: 'old_1', platformID: 5 })
    emulator.resetCounts()
    const response = await importUsers(app, [
      { userID: 'new_1', nickname: 'New One', faceURL: 'https://x.example/1.png', ex: '{"plan":"pro"}' },
      { userID: 'old_1', nickname: 'ignored for existing users' },
      { userID: 'a:b' },
      { userID: 'system_bot' },
      { userID: 'imAdmin' },
      { userID: 'new_1', nickname: 'second occurrence' },
      { userID: 'new_2', nickname: '\u202Eevil' },
      { userID: 'with-dash' },
      { userID: '' }
    ])
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.same(body.results.map((result: { userID: string, status: string, code?: string }) => [result.userID, result.status, result.code ?? '']), [
      ['new_1', 'created', ''],
      ['old_1', 'existing', ''],
      ['a:b', 'failed', 'INVALID_USER_ID'],
      ['system_bot', 'failed', 'RESERVED_USER_ID'],
      ['imAdmin', 'failed', 'RESERVED_USER_ID'],
      ['new_1', 'failed', 'DUPLICATE_IN_BATCH'],
      ['new_2', 'failed', 'INVALID_PROFILE'],
      ['with-dash', mode === 'current' ? 'failed' : 'created', mode === 'current' ? 'INVALID_USER_ID' : ''],
      ['', 'failed', 'INVALID_USER_ID']
    ])
    t.equal(body.created, mode === 'current' ? 1 : 2)
    t.equal(body.existing, 1)
    t.equal(body.failed, mode === 'current' ? 7 : 6)
    t.ok(body.results.every((result: { status: string, message?: string }) => result.status !== 'failed' || (result.message ?? '').length > 10), 'failures say why')
    t.match(emulator.users.get('new_1'), { nickname: 'New One', faceURL: 'https://x.example/1.png', ex: '{"plan":"pro"}' })
    t.equal(emulator.users.get('old_1')?.nickname, 'old_1', 'existing users are left as they are')
    t.equal(emulator.callCount('/user/account_check'), 1, 'one account_check for the batch')
    t.equal(emulator.callCount('/user/user_register'), 1)
    const registered = JSON.parse(emulator.recentCalls.find((call) => call.path === '/user/user_register')!.body)
    t.notOk(registered.users.some((user: { userID: string }) => user.userID === 'old_1'), 'an existing ID is never sent to user_register')
  })
}

t.test('v3.8.0 refuses a whole chunk for one ID its rule forbids: those IDs fail alone, the others are created', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const { app } = await buildGateway(t, emulator.url)
  const response = await importUsers(app, [{ userID: 'good_1' }, { userID: 'bad-1' }, { userID: 'good_2' }, { userID: 'a.b@c' }])
  t.same(response.json().results.map((result: { userID: string, status: string, code?: string }) => [result.userID, result.status, result.code ?? '']), [
    ['good_1', 'created', ''], ['bad-1', 'failed', 'INVALID_USER_ID'], ['good_2', 'created', ''], ['a.b@c', 'failed', 'INVALID_USER_ID']
  ])
  t.match(response.json().results[1].message, /letters, digits and "_"/)
  t.equal(emulator.callCount('/user/user_register'), 2, 'the refused chunk, then its valid users once')
  t.ok(emulator.users.has('good_1') && emulator.users.has('good_2'))
})

t.test('a 1001 that no userID of the chunk explains fails the chunk as OpenIM\'s refusal: OpenIM\'s text is never read', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 1001, errMsg: 'ArgsError', errDlt: 'userID is legal' }, 1)
  const response = await importUsers(app, ids('h', 4))
  t.same(response.json().results.map((result: { code?: string }) => result.code), ['OPENIM_REJECTED', 'OPENIM_REJECTED', 'OPENIM_REJECTED', 'OPENIM_REJECTED'])
  t.equal(emulator.callCount('/user/user_register'), 1, 'not split: nothing says which ID OpenIM refused')
})

t.test('an existing user keeps whatever format OpenIM accepted when it registered', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.addUser('user-1.old', { nickname: 'Old', createTime: 1 })
  t.match((await importUsers(app, [{ userID: 'user-1.old' }])).json().results, [{ userID: 'user-1.old', status: 'existing' }])
})

t.test('1,000 new users cost one account_check and four user_register calls; a re-run is all existing and registers nothing', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  emulator.resetCounts()
  const first = await importUsers(app, ids('u', 1000))
  t.match(first.json(), { created: 1000, existing: 0, failed: 0 })
  t.equal(userCount(emulator), 1000)
  t.equal(emulator.callCount(), 5)
  emulator.resetCounts()
  t.match((await importUsers(app, ids('u', 1000))).json(), { created: 0, existing: 1000, failed: 0 })
  t.equal(emulator.callCount(), 1)
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /openim_gateway_users_imported_total\{outcome="created",code=""\} 1000/)
  t.match(metrics, /openim_gateway_users_imported_total\{outcome="existing",code=""\} 1000/)
})

t.test('limits: IMPORT_MAX_USERS, an empty list and unknown fields are 400; the body limit is the import\'s own', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { IMPORT_MAX_USERS: '3', IMPORT_BODY_LIMIT_BYTES: '131072' })
  const tooMany = await importUsers(app, ids('m', 4))
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.json(), { code: 'INVALID_REQUEST', message: /users must NOT have more than 3 items/ })
  t.match((await importUsers(app, [])).json(), { statusCode: 400, code: 'INVALID_REQUEST' })
  t.match((await importUsers(app, [{ userID: 'a', appMangerLevel: 3 }])).json(), { statusCode: 400, message: /appMangerLevel/ })
  t.match((await post(app, '/users/import', { users: [{ userID: 'a' }], extra: 1 })).json(), { statusCode: 400 })
  t.equal(emulator.callCount('/user/user_register'), 0)
  const large = [{ userID: 'big_1', ex: 'x'.repeat(8000) }, { userID: 'big_2', ex: 'y'.repeat(8000) }, { userID: 'big_3', ex: 'z'.repeat(8000) }]
  const { app: roomy } = await buildGateway(t, emulator.url, { IMPORT_BODY_LIMIT_BYTES: '131072' })
  t.equal((await importUsers(roomy, [...large, ...ids('f', 10).map((user) => ({ ...user, ex: 'e'.repeat(5000) }))])).statusCode, 200, 'past the global 64 KiB')
  const tooLarge = await importUsers(roomy, Array.from({ length: 20 }, (_, i) => ({ userID: `l${i}`, ex: 'x'.repeat(8000) })))
  t.equal(tooLarge.statusCode, 413)
  t.equal(tooLarge.json().code, 'PAYLOAD_TOO_LARGE')
  t.equal((await provision(roomy, { userID: 'p', platformID: 5, ex: 'x'.repeat(70_000) })).statusCode, 413, '/provision keeps the global limit')
})

t.test('a value past its rule fails its row however far past, answered without the value; its neighbours are created', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await importUsers(app, [
    { userID: 'ok_1' },
    { userID: 'long_ex', ex: 'x'.repeat(40_000) },
    { userID: 'long_face', faceURL: `https://e.example/${'f'.repeat(9000)}` },
    { userID: 'long_nick', nickname: 'n'.repeat(2000) },
    { userID: 'u'.repeat(300) },
    { userID: 'ok_2' }
  ])
  t.equal(response.statusCode, 200, 'no value refuses the batch')
  const results = response.json().results as Array<{ userID: string, status: string, code?: string, message?: string }>
  t.same(results.map(({ userID, status, code }) => [userID, status, code ?? '']), [
    ['ok_1', 'created', ''],
    ['long_ex', 'failed', 'INVALID_PROFILE'],
    ['long_face', 'failed', 'INVALID_PROFILE'],
    ['long_nick', 'failed', 'INVALID_PROFILE'],
    ['', 'failed', 'INVALID_USER_ID'],
    ['ok_2', 'created', '']
  ], 'a userID too long to be one is answered as ""')
  t.match(results.slice(1, 5).map(({ message }) => message),
    [/ex must be at most 8192 characters/, /faceURL must be an http\(s\) URL of at most 2048/, /nickname must be 1–255 characters/, /userID must be at most 64 characters/])
  t.ok(response.body.length < 2000, 'no value is echoed')
  t.ok(emulator.users.has('ok_1') && emulator.users.has('ok_2'))
})

t.test('imports have their own rate budget, apart from /provision\'s', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { IMPORT_RATE_LIMIT_MAX: '2', RATE_LIMIT_MAX: '2' })
  t.equal((await importUsers(app, ids('r', 2))).statusCode, 200)
  t.equal((await importUsers(app, ids('r', 2))).statusCode, 200)
  const limited = await importUsers(app, ids('r', 2))
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { code: 'RATE_LIMITED' })
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await provision(app, { userID: 'r0', platformID: 5 })).statusCode, 200, '/provision still has its budget')
  t.equal((await provision(app, { userID: 'r0', platformID: 5 })).statusCode, 200)
  t.equal((await provision(app, { userID: 'r0', platformID: 5 })).statusCode, 429)
  t.equal((await importUsers(app, ids('r', 2), { 'x-api-key': SERVICE_KEY })).statusCode, 429, 'and /provision did not refill it')
})
