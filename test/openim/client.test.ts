import { createServer } from 'node:net'
import t from 'tap'
import { EMULATOR_MODES } from '../../src/emulator/modes.js'
import { OpenImClient, type OpenImClientOptions } from '../../src/openim/client.js'
import { OpenImError } from '../../src/openim/errors.js'
import { OpenImTransport, type CallRecord } from '../../src/openim/transport.js'
import { ADMIN, HUNG_CALL_TIMEOUT_MS, SECRET, startOpenIm } from '../helper.js'

interface Teardown { teardown (fn: () => unknown): void }

function client (t: Teardown, url: string, options: Partial<OpenImClientOptions> & { timeoutMs?: number } = {}) {
  const calls: CallRecord[] = []
  const transport = new OpenImTransport({
    baseUrl: url, timeoutMs: options.timeoutMs ?? 30_000, connections: 4, pipelining: 1, keepAliveTimeoutMs: 4000, maxPendingCalls: 16, onCall: (call) => calls.push(call)
  })
  const openim = new OpenImClient({ transport, secret: SECRET, adminUserID: ADMIN, apiMode: 'auto', ...options })
  t.teardown(() => openim.close())
  return { openim, calls }
}

async function failure (promise: Promise<unknown>): Promise<OpenImError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof OpenImError) return error
    throw error
  }
  throw new Error('expected an OpenImError')
}

t.test('auto mode detects each generation once (v3.8.0 as legacy), and uses the probe\'s admin token', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const { openim } = client(t, emulator.url)
    t.equal(await openim.connectedGeneration({ operationID: 'op' }), emulator.api, mode)
    await openim.accountCheck(['alice'], { operationID: 'op' })
    await openim.accountCheck(['bob'], { operationID: 'op' })
    const probes = emulator.callCount('/auth/get_admin_token') + emulator.callCount('/auth/user_token')
    t.equal(probes, emulator.api === 'current' ? 1 : 2, `${mode}: one probe per path tried, no separate admin mint`)
  }
})

t.test('an explicit mode skips detection', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { openim } = client(t, emulator.url, { apiMode: 'legacy' })
  await openim.accountCheck(['alice'], { operationID: 'op' })
  t.equal(emulator.callCount('/auth/get_admin_token'), 0)
  t.equal(emulator.callCount('/auth/user_token'), 1)
})

t.test('a wrong secret is an auth failure on both generations, and detection runs again next time', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const { openim } = client(t, emulator.url, { secret: 'wrong' })
    const error = await failure(openim.accountCheck(['alice'], { operationID: 'op' }))
    t.equal(error.kind, 'auth_failed', mode)
    t.equal(error.errCode, 1002)
    const before = emulator.callCount('/auth/get_admin_token')
    await failure(openim.accountCheck(['alice'], { operationID: 'op' }))
    t.equal(emulator.callCount('/auth/get_admin_token'), before + 1, 'probed again')
  }
})

t.test('a userID the current server does not know as admin is an auth failure (1001), not a legacy server', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url, { adminUserID: 'notAdmin' })
  const error = await failure(openim.connectedGeneration({ operationID: 'op' }))
  t.equal(error.kind, 'auth_failed')
  t.equal(error.errCode, 1001)
  t.equal(emulator.callCount('/auth/user_token'), 1, 'tried the legacy path, which the current server does not have')
})

t.test('a server with neither token route is a bad response naming OPENIM_API_URL', async (t) => {
  for (const mode of EMULATOR_MODES) {
    const emulator = await startOpenIm(t, { mode })
    const { openim } = client(t, emulator.url + '/not-openim')
    const error = await failure(openim.connectedGeneration({ operationID: 'op' }))
    t.equal(error.kind, 'bad_response', mode)
    t.match(error.message, /OPENIM_API_URL/)
  }
})

t.test('the admin token is cached for the TTL and re-minted after it', async (t) => {
  const emulator = await startOpenIm(t)
  let now = 1_000_000
  const { openim } = client(t, emulator.url, { now: () => now, adminTokenTtlMs: 240_000 })
  await openim.accountCheck(['a'], { operationID: 'op' })
  now += 239_000
  await openim.accountCheck(['a'], { operationID: 'op' })
  t.equal(emulator.callCount('/auth/get_admin_token'), 1)
  now += 2000
  await openim.accountCheck(['a'], { operationID: 'op' })
  t.equal(emulator.callCount('/auth/get_admin_token'), 2)
})

t.test('concurrent calls share one admin-token mint', async (t) => {
  const emulator = await startOpenIm(t, { latencyMs: 20 })
  const { openim } = client(t, emulator.url, { apiMode: 'current' })
  await Promise.all(Array.from({ length: 20 }, (_, i) => openim.accountCheck([`u${i}`], { operationID: 'op' })))
  t.equal(emulator.callCount('/auth/get_admin_token'), 1)
})

t.test('a kicked admin token (1506) is replaced once and the call retried; concurrent callers share the replacement', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  await openim.accountCheck(['a'], { operationID: 'op' })
  const first = emulator.recentCalls.find((call) => call.path === '/user/account_check')?.token as string
  emulator.tokens.kick(first)
  emulator.advanceClock(1) // else the replacement, minted in the same second, is the very same JWT
  const results = await Promise.all(Array.from({ length: 5 }, () => openim.accountCheck(['a'], { operationID: 'op' })))
  t.equal(results.length, 5)
  t.equal(emulator.callCount('/auth/get_admin_token'), 2, 'one replacement for all five')
})

t.test('every token errCode (1501–1507) replaces the admin token once and retries; its neighbours do not', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  await openim.accountCheck(['a'], { operationID: 'op' })
  for (let errCode = 1501; errCode <= 1507; errCode++) {
    const mints = emulator.callCount('/auth/get_admin_token')
    emulator.injectFault('/user/account_check', { kind: 'errCode', errCode })
    t.ok((await openim.accountCheck(['a'], { operationID: 'op' })).has('a'), `${errCode}: retried`)
    t.equal(emulator.callCount('/auth/get_admin_token'), mints + 1, `${errCode}: one replacement`)
  }
  for (const errCode of [1500, 1508]) {
    const mints = emulator.callCount('/auth/get_admin_token')
    emulator.injectFault('/user/account_check', { kind: 'errCode', errCode })
    t.equal((await failure(openim.accountCheck(['a'], { operationID: 'op' }))).errCode, errCode, `${errCode}: the caller's error`)
    t.equal(emulator.callCount('/auth/get_admin_token'), mints, `${errCode}: the admin token is kept`)
  }
})

t.test('a token error that persists after one replacement is the caller\'s error', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  await openim.accountCheck(['a'], { operationID: 'op' })
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1507 }, 2)
  const error = await failure(openim.accountCheck(['a'], { operationID: 'op' }))
  t.equal(error.kind, 'rejected')
  t.equal(error.errCode, 1507)
  t.equal(emulator.callCount('/auth/get_admin_token'), 2)
})

t.test('every failure mode is typed', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url, { timeoutMs: Number(HUNG_CALL_TIMEOUT_MS) })
  await openim.accountCheck(['a'], { operationID: 'op' })
  const cases = [
    [{ kind: 'errCode', errCode: 1001 }, 'rejected'],
    [{ kind: 'errCode', errCode: 14 }, 'rejected'],
    [{ kind: 'html' }, 'bad_response'],
    [{ kind: 'empty' }, 'bad_response'],
    [{ kind: 'text', body: '' }, 'bad_response'],
    [{ kind: 'text', body: 'not json' }, 'bad_response'],
    [{ kind: 'text', body: '{"data":{}}' }, 'bad_response'],
    [{ kind: 'text', status: 404, body: '404 page not found' }, 'bad_response'],
    [{ kind: 'drop' }, 'unavailable'],
    [{ kind: 'hang' }, 'timeout']
  ] as const
  for (const [fault, kind] of cases) {
    emulator.injectFault('/user/account_check', fault)
    const error = await failure(openim.accountCheck(['a'], { operationID: 'op' }))
    t.equal(error.kind, kind, JSON.stringify(fault))
    t.equal(error.path, '/user/account_check')
  }
})

t.test('an unexpected result shape is a bad response', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  await openim.accountCheck(['a'], { operationID: 'op' })
  emulator.injectFault('/user/account_check', { kind: 'text', body: '{"errCode":0,"data":{"results":[{"userID":"a","accountStatus":"maybe"}]}}' })
  t.equal((await failure(openim.accountCheck(['a'], { operationID: 'op' }))).kind, 'bad_response')
  emulator.injectFault('/user/account_check', { kind: 'text', body: '{"errCode":0,"data":{"results":null}}' })
  t.equal((await failure(openim.accountCheck(['a'], { operationID: 'op' }))).kind, 'bad_response', 'a userID left out')
  emulator.injectFault('/auth/get_user_token', { kind: 'text', body: '{"errCode":0,"data":{"token":""}}' })
  t.equal((await failure(openim.mintUserToken('a', 5, { operationID: 'op' }))).kind, 'bad_response')
})

t.test('connection refused is unavailable', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const { openim } = client(t, `http://127.0.0.1:${port}`)
  const error = await failure(openim.connectedGeneration({ operationID: 'op' }))
  t.equal(error.kind, 'unavailable')
  t.match(error.message, /ECONNREFUSED/)
})

t.test('auto mode detects again when the generation it knew stops answering (404)', async (t) => {
  const legacy = await startOpenIm(t, { mode: 'legacy' })
  const { openim } = client(t, legacy.url)
  t.equal(await openim.connectedGeneration({ operationID: 'op' }), 'legacy')
  legacy.injectFault('/user/account_check', { kind: 'text', status: 404, body: '404 page not found' })
  await failure(openim.accountCheck(['a'], { operationID: 'op' }))
  await openim.accountCheck(['a'], { operationID: 'op' })
  t.equal(legacy.callCount('/auth/get_admin_token'), 2, 'probed again after the 404')
})

t.test('every call carries the operationID; the secret goes only into the calls that need it', async (t) => {
  for (const mode of ['current', 'legacy'] as const) {
    const emulator = await startOpenIm(t, { mode })
    const { openim } = client(t, emulator.url, { apiMode: mode })
    await openim.registerUsers([{ userID: 'alice', nickname: 'A' }], { operationID: 'trace-1' })
    await openim.mintUserToken('alice', 5, { operationID: 'trace-1' })
    await openim.accountCheck(['alice'], { operationID: 'trace-1' })
    await openim.forceLogout('alice', 5, { operationID: 'trace-1' })
    for (const call of emulator.recentCalls) {
      t.equal(call.operationID, 'trace-1', `${mode} ${call.path}`)
      const needsSecret = call.path === '/auth/get_admin_token' || (mode === 'legacy' && (call.path === '/auth/user_token' || call.path === '/user/user_register'))
      t.equal(call.body.includes(SECRET), needsSecret, `${mode} ${call.path} ${needsSecret ? 'has' : 'has no'} secret`)
    }
  }
})

t.test('the base URL may carry a path prefix (OpenIM behind a reverse proxy)', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim, calls } = client(t, emulator.url)
  await openim.accountCheck(['a'], { operationID: 'op' })
  t.equal(calls.at(-1)?.outcome, 'ok')
  t.equal(calls.at(-1)?.path, '/user/account_check')
})

t.test('a legacy server whose get_admin_token answers 1001 without a word is detected as legacy', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', errCode: 1001, errDlt: '' })
  const { openim } = client(t, emulator.url)
  t.equal(await openim.connectedGeneration({ operationID: 'op' }), 'legacy')
})

t.test('a 404 on a legacy call made with the secret (no token): the current route is asked at once, and detection runs again', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { openim } = client(t, emulator.url)
  t.equal(await openim.connectedGeneration({ operationID: 'op' }), 'legacy')
  emulator.injectFault('/user/user_register', { kind: 'text', status: 404, body: '404 page not found' })
  t.equal((await failure(openim.registerUsers([{ userID: 'a', nickname: 'A' }], { operationID: 'op' }))).kind, 'bad_response')
  t.equal(emulator.callCount('/auth/get_admin_token'), 2, 'the current route, asked at once, is not there either')
  t.equal(await openim.connectedGeneration({ operationID: 'op' }), 'legacy')
  t.equal(emulator.callCount('/auth/get_admin_token'), 3, 'detected again')
})

t.test('a token answer with an implausible expireTimeSeconds is a bad response, for user and admin tokens', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  for (const lifetime of ['1e308', '-1', '0', '1.5', '"7776000"', '3153600001']) {
    emulator.injectFault('/auth/get_user_token', { kind: 'text', body: `{"errCode":0,"errMsg":"","errDlt":"","data":{"token":"t","expireTimeSeconds":${lifetime}}}` })
    t.equal((await failure(openim.mintUserToken('a', 5, { operationID: 'op' }))).kind, 'bad_response', `user token, ${lifetime}`)
  }
  const { openim: fresh } = client(t, emulator.url)
  emulator.injectFault('/auth/get_admin_token', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":"","data":{"token":"t","expireTimeSeconds":-5}}' })
  t.equal((await failure(fresh.accountCheck(['a'], { operationID: 'op' }))).kind, 'bad_response', 'admin token')
})

for (const mode of EMULATOR_MODES) {
  t.test(`${mode}: parseToken says whose a live token is and when it expires (absolute), in one call without the admin token`, async (t) => {
    const emulator = await startOpenIm(t, { mode, tokenLifetimeSeconds: 3600 })
    emulator.addUser('pat')
    const { openim } = client(t, emulator.url)
    const before = Math.floor(Date.now() / 1000) * 1000
    const minted = await openim.mintUserToken('pat', 7, { operationID: 'op' })
    const after = Date.now()
    emulator.resetCounts()
    const parsed = await openim.parseToken(minted.token, { operationID: 'op-parse' })
    t.equal(parsed.userID, 'pat')
    t.equal(parsed.platformID, 7)
    t.ok(parsed.expiresAt >= before + 3600_000 && parsed.expiresAt <= after + 3600_000, 'an absolute time, a lifetime from the mint')
    t.same(emulator.recentCalls.map((call) => [call.path, call.token]), [['/auth/parse_token', undefined]])
  })
}

t.test('parseToken: a refused token (1501–1507) is a rejection with its errCode, never an admin-token retry', async (t) => {
  const emulator = await startOpenIm(t)
  emulator.addUser('pat')
  const { openim } = client(t, emulator.url)
  const { token } = await openim.mintUserToken('pat', 5, { operationID: 'op' })
  await openim.forceLogout('pat', 5, { operationID: 'op' })
  const mintsBefore = emulator.callCount('/auth/get_admin_token')
  const kicked = await failure(openim.parseToken(token, { operationID: 'op' }))
  t.match(kicked, { kind: 'rejected', errCode: 1506 })
  emulator.tokens.flush()
  t.match(await failure(openim.parseToken(token, { operationID: 'op' })), { kind: 'rejected', errCode: 1507 })
  t.equal(emulator.callCount('/auth/get_admin_token'), mintsBefore, 'the admin token was not replaced')
})

t.test('parseToken: OpenIM up to v3.6 names the platform; an answer without a usable expiry or platform is a bad response', async (t) => {
  const emulator = await startOpenIm(t)
  const { openim } = client(t, emulator.url)
  const inAnHour = Math.floor(Date.now() / 1000) + 3600
  const answer = (data: Record<string, unknown>) => emulator.injectFault('/auth/parse_token', { kind: 'text', body: JSON.stringify({ errCode: 0, errMsg: '', errDlt: '', data }) })
  answer({ userID: 'pat', platform: 'APad', expireTimeSeconds: inAnHour })
  t.match(await openim.parseToken('t', { operationID: 'op' }), { userID: 'pat', platformID: 8, expiresAt: inAnHour * 1000 })
  const bad: Array<Record<string, unknown>> = [
    { userID: 'pat', platform: 'Fridge', expireTimeSeconds: inAnHour },
    { userID: 'pat', expireTimeSeconds: inAnHour },
    { platformID: 5, expireTimeSeconds: inAnHour },
    { userID: 'pat', platformID: 5 },
    { userID: 'pat', platformID: 5, expireTimeSeconds: 7_776_000 },
    { userID: 'pat', platformID: 5, expireTimeSeconds: inAnHour - 7200 },
    { userID: 'pat', platformID: 5, expireTimeSeconds: inAnHour + 101 * 365 * 86_400 },
    { userID: 'pat', platformID: 5, expireTimeSeconds: inAnHour + 0.5 },
    { userID: 'pat', platformID: 5.5, expireTimeSeconds: inAnHour }
  ]
  for (const data of bad) {
    answer(data)
    t.equal((await failure(openim.parseToken('t', { operationID: 'op' }))).kind, 'bad_response', JSON.stringify(data))
  }
})
