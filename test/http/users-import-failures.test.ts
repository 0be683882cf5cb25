import t from 'tap'
import { HUNG_CALL_TIMEOUT_MS, buildGateway, hold, post, startOpenIm, userCount, waitFor } from '../helper.js'

type App = Awaited<ReturnType<typeof buildGateway>>['app']
type Result = { userID: string, status: string, code?: string }
const importUsers = (app: App, users: unknown[]) => post(app, '/users/import', { users })
const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => ({ userID: `${prefix}${i}` }))
const statuses = (results: Result[]) => results.reduce<Record<string, number>>((counts, { status, code }) => {
  const key = code === undefined ? status : `${status}:${code}`
  counts[key] = (counts[key] ?? 0) + 1
  return counts
}, {})

t.test('a registration race: someone registers a user between account_check and user_register; the chunk is split and retried', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  // user_register held: once it has arrived (and before it is handled), another client registers c5.
  const { fault, release } = hold()
  emulator.injectFault('/user/user_register', fault)
  const pending = importUsers(app, ids('c', 8))
  await waitFor(() => emulator.callCount('/user/user_register') === 1, 'user_register to arrive')
  emulator.addUser('c5', { nickname: 'registered elsewhere', createTime: 1 })
  release()
  const body = (await pending).json()
  t.same(statuses(body.results), { created: 7, existing: 1 })
  t.equal(body.results[5].status, 'existing')
  t.equal(emulator.users.get('c5')?.nickname, 'registered elsewhere')
  t.equal(userCount(emulator), 8)
  // 8 → 4+4 → (c4..c7) 2+2 → (c4,c5) 1+1: the halves without c5 go through at once.
  t.equal(emulator.callCount('/user/user_register'), 7)
})

t.test('a 1102 for the whole chunk splits it and retries the halves', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 1102 })
  const body = (await importUsers(app, ids('s', 4))).json()
  t.match(body, { created: 4, existing: 0, failed: 0 })
  t.equal(emulator.callCount('/user/user_register'), 3, 'one refusal, then two halves')
})

t.test('a 500 from user_register: account_check decides between a race and a failure', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  // The insert stored the users, then OpenIM answered 500 (what a unique-index race looks like).
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 500, afterEffect: true })
  t.match((await importUsers(app, ids('p', 3))).json(), { created: 0, existing: 3, failed: 0 })
  // Nothing was stored: not a race, the users failed with a retryable code.
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 500 })
  const body = (await importUsers(app, ids('q', 3))).json()
  t.same(statuses(body.results), { 'failed:OPENIM_REJECTED': 3 })
  t.match(body.results[0].message, /errCode 500/)
})

t.test('OpenIM failing part-way fails the users of that chunk, still in a 200; the other chunks go through', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'html' })
  const response = await importUsers(app, ids('h', 600))
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.same(statuses(body.results), { 'failed:OPENIM_BAD_RESPONSE': 250, created: 350 })
  t.equal(body.results[0].code, 'OPENIM_BAD_RESPONSE')
  t.equal(body.results[250].status, 'created')
  t.match((await app.inject({ url: '/metrics' })).body, /openim_gateway_users_imported_total\{outcome="failed",code="OPENIM_BAD_RESPONSE"\} 250/)
  t.match((await importUsers(app, ids('h', 600))).json(), { created: 250, existing: 350, failed: 0 }, 'a retry finishes the job')
})

t.test('OpenIM unreachable part-way: the chunks not yet sent fail too, without being tried', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'drop' })
  const body = (await importUsers(app, ids('d', 600))).json()
  t.same(statuses(body.results), { 'failed:OPENIM_UNAVAILABLE': 600 })
  t.match(body.results[599].message, /not sent: an earlier call in this import failed/)
  t.equal(emulator.callCount('/user/user_register'), 1)
})

t.test('when the first account_check fails nothing was done: the request fails with the usual error', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 14 })
  const response = await importUsers(app, ids('e', 3))
  t.equal(response.statusCode, 502)
  t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 14 })
  t.equal(emulator.callCount('/user/user_register'), 0)
  t.match((await importUsers(app, [{ userID: 'imAdmin' }])).json(), { failed: 1 }, 'a batch that needs no OpenIM call is answered anyway')
})

t.test('IMPORT_DEADLINE_MS bounds the import: users still waiting fail with DEADLINE_EXCEEDED', async (t) => {
  const emulator = await startOpenIm(t)
  // A deadline that only a hung call reaches, and an OpenIM timeout far beyond it.
  const { app } = await buildGateway(t, emulator.url, { IMPORT_DEADLINE_MS: HUNG_CALL_TIMEOUT_MS, OPENIM_TIMEOUT_MS: '60000' })
  // The abandoned calls still hold the gateway's connection pool open: close the emulator first, which drops them.
  t.teardown(() => emulator.close())
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  emulator.injectFault('/user/user_register', { kind: 'hang' })
  const response = await importUsers(app, ids('t', 300))
  // DEADLINE_EXCEEDED, not OPENIM_TIMEOUT: answered at the deadline, not at the OpenIM timeout.
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.same(statuses(body.results), { 'failed:DEADLINE_EXCEEDED': 300 })
  t.match(body.results[0].message, /may exist already/)
  t.match(body.results[299].message, `IMPORT_DEADLINE_MS (${HUNG_CALL_TIMEOUT_MS} ms)`)

  emulator.injectFault('/user/account_check', { kind: 'hang' })
  const timedOut = await importUsers(app, ids('v', 2))
  t.equal(timedOut.statusCode, 504)
  t.match(timedOut.json(), { code: 'DEADLINE_EXCEEDED', message: /nothing was imported/ })
})
