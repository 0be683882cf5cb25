import t from 'tap'
import { OpenImClient, type OpenImClientOptions } from '../../src/openim/client.js'
import { OpenImError, UserIdRuleRefusal } from '../../src/openim/errors.js'
import { OpenImTransport } from '../../src/openim/transport.js'
import { ADMIN, SECRET, startOpenIm } from '../helper.js'

// OpenIM upgraded or downgraded in place under a running client (CONTRACT.md §1): noticed from errCodes, HTTP
// statuses and one question to the other generation's admin route, never from OpenIM's text (the emulator's
// v3.8.3 answers carry none).

function client (t: { teardown (fn: () => unknown): void }, url: string, options: Partial<OpenImClientOptions> = {}) {
  const transport = new OpenImTransport({ baseUrl: url, timeoutMs: 5000, connections: 4, pipelining: 1, keepAliveTimeoutMs: 4000, maxPendingCalls: 64 })
  const generations: string[] = []
  const openim = new OpenImClient({
    transport, secret: SECRET, adminUserID: ADMIN, apiMode: 'auto', events: { generationDetected: (generation) => generations.push(generation) }, ...options
  })
  t.teardown(() => openim.close())
  return { openim, generations }
}

async function failure (promise: Promise<unknown>): Promise<OpenImError> {
  try { await promise } catch (error) { if (error instanceof OpenImError) return error; throw error }
  throw new Error('expected an OpenImError')
}

const op = { operationID: 'op' }
const paths = (emulator: { recentCalls: Array<{ path: string }> }) => emulator.recentCalls.map((call) => call.path)

for (const from of ['legacy', 'v3.8.0'] as const) {
  t.test(`${from} upgraded to v3.8.3: the next mint notices, asks get_admin_token once, and succeeds the current way`, async (t) => {
    const emulator = await startOpenIm(t, { mode: from })
    emulator.addUser('ann')
    const { openim, generations } = client(t, emulator.url)
    await openim.mintUserToken('ann', 5, op)
    emulator.switchMode('current')
    emulator.resetCounts()
    const minted = await openim.mintUserToken('ann', 5, op)
    t.ok(minted.token.length > 0, 'no failure')
    t.same(paths(emulator), ['/auth/user_token', '/auth/get_admin_token', '/auth/get_user_token'],
      'the legacy call (1001, no text), the question, the call again the current way')
    t.same(generations, ['legacy', 'current'])
    t.equal(await openim.connectedGeneration(op), 'current')
  })

  t.test(`${from} upgraded to v3.8.3: registering notices it too`, async (t) => {
    const emulator = await startOpenIm(t, { mode: from })
    const { openim } = client(t, emulator.url)
    await openim.registerUsers([{ userID: 'a1', nickname: 'A' }], op)
    emulator.switchMode('current')
    emulator.resetCounts()
    await openim.registerUsers([{ userID: 'b1', nickname: 'B' }], op)
    t.ok(emulator.users.has('b1'))
    t.same(paths(emulator), ['/user/user_register', '/auth/get_admin_token', '/user/user_register'])
    t.notOk(emulator.recentCalls.at(-1)!.body.includes(SECRET), 'the second time with the admin token, without the secret')
  })

  t.test(`v3.8.3 downgraded to ${from}: the admin token it never stored (1507) is replaced from /auth/user_token`, async (t) => {
    const emulator = await startOpenIm(t)
    emulator.addUser('ann')
    const { openim, generations } = client(t, emulator.url)
    await openim.accountCheck(['ann'], op)
    emulator.switchMode(from)
    emulator.resetCounts()
    t.same([...(await openim.accountCheck(['ann'], op)).entries()], [['ann', true]], 'no failure')
    t.same(paths(emulator), ['/user/account_check', '/auth/get_admin_token', '/auth/user_token', '/user/account_check'])
    t.ok(await openim.mintUserToken('ann', 5, op))
    t.equal(emulator.recentCalls.at(-1)!.path, '/auth/user_token', 'minted the legacy way')
    t.same(generations, ['current', 'legacy'])
  })
}

t.test('concurrent callers that meet the upgrade share one question', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy', latencyMs: 10 })
  for (let i = 0; i < 10; i++) emulator.addUser(`u${i}`)
  const { openim } = client(t, emulator.url)
  await openim.connectedGeneration(op)
  emulator.switchMode('current')
  emulator.resetCounts()
  const minted = await Promise.all(Array.from({ length: 10 }, (_, i) => openim.mintUserToken(`u${i}`, 5, op)))
  t.equal(minted.length, 10, 'every one succeeded')
  t.equal(emulator.callCount('/auth/get_admin_token'), 1)
  t.equal(emulator.callCount('/auth/get_user_token'), 10)
})

t.test('a 1001 the other generation does not explain stands: one question, the same generation, the error as it came', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { openim } = client(t, emulator.url)
  await openim.connectedGeneration(op)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 1001, errDlt: '' })
  const error = await failure(openim.registerUsers([{ userID: 'valid_id', nickname: 'V' }], op))
  t.match(error, { kind: 'rejected', errCode: 1001 })
  t.notOk(error instanceof UserIdRuleRefusal, 'no ID in the batch breaks a rule')
  t.equal(emulator.callCount('/auth/get_admin_token'), 2, 'detection, then the one question')
  t.equal(await openim.connectedGeneration(op), 'legacy')
})

t.test('v3.8.0 refusing a new userID for its rule is told from the IDs sent, without asking anything', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const { openim } = client(t, emulator.url)
  await openim.connectedGeneration(op)
  emulator.resetCounts()
  const error = await failure(openim.registerUsers([{ userID: 'ok_1', nickname: 'O' }, { userID: 'not-ok', nickname: 'N' }], op))
  t.ok(error instanceof UserIdRuleRefusal)
  t.same((error as UserIdRuleRefusal).userIDs, ['not-ok'])
  t.same(paths(emulator), ['/user/user_register'])
})

t.test('the other generation refusing the secret (1002) is an auth failure, and detection runs again next time', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  emulator.addUser('ann')
  const { openim } = client(t, emulator.url)
  await openim.mintUserToken('ann', 5, op)
  emulator.switchMode('current')
  emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', errCode: 1002 })
  t.equal((await failure(openim.mintUserToken('ann', 5, op))).kind, 'auth_failed')
  t.ok(await openim.mintUserToken('ann', 5, op))
  t.equal(await openim.connectedGeneration(op), 'current')
})

t.test('an explicit API mode never asks the other generation', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  emulator.addUser('ann')
  const { openim } = client(t, emulator.url, { apiMode: 'legacy' })
  await openim.mintUserToken('ann', 5, op)
  emulator.switchMode('current')
  t.match(await failure(openim.mintUserToken('ann', 5, op)), { kind: 'rejected', errCode: 1001 })
  t.equal(emulator.callCount('/auth/get_admin_token'), 0)
})

t.test('admin-token reuse by generation: most of its life on v3.0–v3.8.0, four minutes on v3.8.1+', async (t) => {
  const day = 86_400_000
  for (const [mode, keptMs] of [['legacy', 89 * day], ['v3.8.0', 89 * day], ['current', 240_000]] as const) {
    const emulator = await startOpenIm(t, { mode })
    let now = Date.now()
    const { openim } = client(t, emulator.url, { now: () => now })
    await openim.accountCheck(['a'], op)
    const mints = () => emulator.callCount(mode === 'current' ? '/auth/get_admin_token' : '/auth/user_token')
    const before = mints()
    now += keptMs - 1000
    await openim.accountCheck(['a'], op)
    t.equal(mints(), before, `${mode}: reused until a day before it expires (90-day tokens)`)
    now += 2000
    emulator.advanceClock((keptMs + 1000) / 1000)
    await openim.accountCheck(['a'], op)
    t.equal(mints(), before + 1, `${mode}: replaced after`)
  }
})

t.test('a short token lifetime: legacy admin tokens are reused for half of it', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy', tokenLifetimeSeconds: 86_400 })
  let now = Date.now()
  const { openim } = client(t, emulator.url, { now: () => now })
  await openim.accountCheck(['a'], op)
  now += 43_199_000
  await openim.accountCheck(['a'], op)
  t.equal(emulator.callCount('/auth/user_token'), 1)
  now += 2000
  await openim.accountCheck(['a'], op)
  t.equal(emulator.callCount('/auth/user_token'), 2)
})

t.test('OPENIM_ADMIN_TOKEN_TTL_SECONDS, when set, wins on every generation', async (t) => {
  for (const mode of ['legacy', 'current'] as const) {
    const emulator = await startOpenIm(t, { mode })
    let now = Date.now()
    const { openim } = client(t, emulator.url, { now: () => now, adminTokenTtlMs: 60_000 })
    await openim.accountCheck(['a'], op)
    now += 61_000
    emulator.advanceClock(61)
    await openim.accountCheck(['a'], op)
    t.equal(emulator.callCount(mode === 'current' ? '/auth/get_admin_token' : '/auth/user_token'), 2, `${mode}: minted again after 60 s`)
  }
})
