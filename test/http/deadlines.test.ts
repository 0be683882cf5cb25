import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { Agent, fetch } from 'undici'
import { SERVICE_KEY, buildGateway, clientsGone, hold, startOpenIm, waitFor } from '../helper.js'

// No wall-clock margins: a timeout or deadline is shown by what OpenIM received (a call never sent, a count),
// and a call the test needs in flight is held by the emulator until the test releases it.
// The event-loop guard would answer OVERLOADED on its own when the machine is busy, and the rate limit
// would refuse the crowds: these tests are about the OpenIM pool and the deadline.
const QUIET = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_MAX: '100000' }

interface Answer { status: number, json: Record<string, unknown>, retryAfter: string | null }

/**
 * The gateway on a loopback port and a client of its own (closed before the gateway, so no idle
 * keep-alive socket holds the gateway's close open). `leave` aborts a request: the client disconnects.
 */
async function listen (t: { teardown (fn: () => unknown): void }, app: FastifyInstance) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  return async (path: string, body: unknown, leave?: AbortSignal): Promise<Answer> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY },
        body: JSON.stringify(body),
        signal: leave,
        dispatcher: agent
      })
      const json = await response.json() as Record<string, unknown>
      return { status: response.status, json, retryAfter: response.headers.get('retry-after') }
    } catch {
      return { status: 0, json: {}, retryAfter: null }
    }
  }
}

// The registry itself: GET /metrics renders at most once a second, too seldom to catch a state that lasts 400 ms.
const metric = async (app: FastifyInstance, pattern: RegExp) => Number(pattern.exec(await app.metrics.registry.metrics())?.[1] ?? 0)
const abandoned = (app: FastifyInstance) => metric(app, /^openim_gateway_provisions_total\{outcome="abandoned",code=""\} (\d+)$/m)

t.test('beyond the queue, 503 OVERLOADED at once: refused while every admitted call is still held', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...QUIET, OPENIM_POOL_CONNECTIONS: '2', OPENIM_MAX_PENDING_CALLS: '10' })
  const post = await listen(t, app)
  t.equal((await post('/provision', { userID: 'warm', platformID: 5 })).status, 201, 'admin token and generation known')
  emulator.resetCounts()
  const { fault, release } = hold()
  emulator.injectFault('*', fault, Infinity)

  const answered: Answer[] = []
  const requests = Array.from({ length: 60 }, (_, i) => post('/provision', { userID: `held_${i}`, platformID: 5 }).then((answer) => { answered.push(answer); return answer }))
  // Two calls on the two connections, ten waiting for one: the other 48 can only be refused, and must be at once.
  await waitFor(() => answered.length === 60 - 2 - 10, 'the requests beyond the queue to be answered')
  for (const answer of answered) t.match(answer, { status: 503, json: { code: 'OVERLOADED' }, retryAfter: '5' })
  t.equal(emulator.callCount(), 2, 'refused while the admitted calls were still held: none waited for a connection')
  release()
  emulator.clearFaults()
  t.same((await Promise.all(requests)).filter((answer) => answer.status !== 201 && answer.status !== 503), [], 'the admitted ones go on once OpenIM answers')
})

t.test('OpenIM hanging under 60 concurrent requests: each ends by its deadline with 504, or 503 OVERLOADED beyond the queue', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, {
    ...QUIET, OPENIM_TIMEOUT_MS: '1500', REQUEST_DEADLINE_MS: '3000', OPENIM_POOL_CONNECTIONS: '2', OPENIM_MAX_PENDING_CALLS: '10'
  })
  const post = await listen(t, app)
  // On a starved machine a first provision may itself outlast these deadlines: it only has to leave the admin
  // token and the generation known.
  await waitFor(async () => (await post('/provision', { userID: 'warm', platformID: 5 })).status === 201, 'a first provision')
  emulator.resetCounts()
  emulator.injectFault('*', { kind: 'hang' }, Infinity)

  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => post('/provision', { userID: `hung_${i}`, platformID: 5 })))
  t.same(answers.filter((answer) => answer.status !== 503 && answer.status !== 504), [], 'every answer is 503 or 504')
  for (const answer of answers.filter((answer) => answer.status === 503)) t.match(answer, { json: { code: 'OVERLOADED' }, retryAfter: '5' })
  t.match(answers.find((answer) => answer.status === 504)?.json, { code: 'OPENIM_TIMEOUT' })
  // Two connections, each call hanging 1.5 s, 3 s of deadline: a handful of calls. Without the deadline every
  // admitted flow would send its call once a connection came free, and all of them would reach OpenIM.
  t.ok(emulator.callCount() <= 2 * 3, `${emulator.callCount()} calls reached OpenIM`)
})

t.test('a call queued for a connection gives up at its request\'s deadline, unsent', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, {
    ...QUIET, OPENIM_TIMEOUT_MS: '1500', REQUEST_DEADLINE_MS: '1500', OPENIM_POOL_CONNECTIONS: '1'
  })
  const post = await listen(t, app)
  await waitFor(async () => (await post('/provision', { userID: 'warm', platformID: 5 })).status === 201, 'a first provision')
  emulator.resetCounts()
  emulator.injectFault('/user/account_check', { kind: 'hang' })
  const answers = await Promise.all([post('/provision', { userID: 'first', platformID: 5 }), post('/provision', { userID: 'second', platformID: 5 })])
  t.same(answers.map((answer) => answer.status), [504, 504], 'the hung call times out; the queued one reaches its deadline')
  for (const answer of answers) t.match(answer.json, { code: 'OPENIM_TIMEOUT' })
  // Past the first call's timeout its connection came free: a queued call that ignored its deadline was sent then.
  t.equal(emulator.callCount(), 1, 'the queued call was never sent')
})

t.test('clients that disconnect: their flows stop between OpenIM calls and nobody is registered after they left', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, QUIET)
  const post = await listen(t, app)
  const gone = clientsGone(app)
  await post('/provision', { userID: 'warm', platformID: 5 })
  emulator.resetCounts()
  const clients = 10
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault, clients)
  const leave = new AbortController()
  const requests = Array.from({ length: clients }, (_, i) => post('/provision', { userID: `gone_${i}`, platformID: 5 }, leave.signal))
  await waitFor(() => emulator.callCount('/user/account_check') === clients, 'every flow to be checking its user')
  leave.abort()
  t.same((await Promise.all(requests)).map((answer) => answer.status), Array(clients).fill(0), 'the clients left without an answer')
  await waitFor(() => gone() === clients, 'the gateway to see every client leave')
  release()
  await waitFor(async () => (await abandoned(app)) === clients, 'every flow to stop')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(emulator.callCount('/user/user_register'), 0, 'no registration for callers who had gone')
  t.equal(emulator.callCount('/user/account_check'), clients, 'and no further call at all')
  t.notOk([...emulator.users.keys()].some((userID) => userID.startsWith('gone_')))
})

t.test('a shared flow goes on while one of its callers still waits', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, QUIET)
  const post = await listen(t, app)
  const gone = clientsGone(app)
  await post('/provision', { userID: 'warm', platformID: 5 })
  emulator.resetCounts()
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault)
  const staying = post('/provision', { userID: 'shared_1', platformID: 5 })
  await waitFor(() => emulator.callCount('/user/account_check') === 1, 'the flow to start')
  const leave = new AbortController()
  const leaving = post('/provision', { userID: 'shared_1', platformID: 5 }, leave.signal)
  await waitFor(async () => (await metric(app, /^openim_gateway_provisions_shared_total (\d+)$/m)) === 1, 'the second caller to join')
  leave.abort()
  t.equal((await leaving).status, 0)
  await waitFor(() => gone() === 1, 'the gateway to see the client leave')
  release()
  t.equal((await staying).status, 201, 'the remaining caller gets the user and a token')
  t.equal(emulator.callCount('/user/user_register'), 1)
  t.equal(await abandoned(app), 0)
})

t.test('a mint already sent completes when its caller leaves: its result is kept and remembered', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, QUIET)
  const post = await listen(t, app)
  const gone = clientsGone(app)
  // Another platform first: nothing is remembered for platform 5, so the second provision mints.
  await post('/provision', { userID: 'minty', platformID: 1 })
  const { fault, release } = hold()
  emulator.injectFault('/auth/get_user_token', fault)
  const leave = new AbortController()
  const leaving = post('/provision', { userID: 'minty', platformID: 5 }, leave.signal)
  await waitFor(() => emulator.callCount('/auth/get_user_token') === 2, 'the mint to be sent')
  leave.abort()
  t.equal((await leaving).status, 0)
  await waitFor(() => gone() === 1, 'the gateway to see the client leave')
  release()
  await waitFor(async () => (await metric(app, /^openim_gateway_provisions_total\{outcome="existing",code=""\} (\d+)$/m)) === 1, 'the flow to finish')
  t.equal(await abandoned(app), 0, 'not counted as stopped')
  // The token it minted (which kicked any earlier one) is remembered: the next caller gets it, with no mint.
  const next = await post('/provision', { userID: 'minty', platformID: 5 })
  t.match(next.json, { reused: true })
  t.equal(emulator.callCount('/auth/get_user_token'), 2)
})

t.test('/revoke logs out nine platforms in parallel, and never stops halfway', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, QUIET)
  const post = await listen(t, app)
  await post('/provision', { userID: 'rita', platformID: 5 })
  emulator.resetCounts()
  const all = hold()
  emulator.injectFault('/auth/force_logout', all.fault, 9)
  const revoking = post('/revoke', { userID: 'rita' })
  // One after another, the second call would wait for the first answer, which is held.
  await waitFor(() => emulator.callCount('/auth/force_logout') === 9, 'nine calls sent before any was answered')
  all.release()
  const answer = await revoking
  t.equal(answer.status, 200)
  t.same(answer.json.platformIDs, [1, 2, 3, 4, 5, 6, 7, 8, 9])

  const { app: narrow } = await buildGateway(t, emulator.url, { ...QUIET, OPENIM_POOL_CONNECTIONS: '2' })
  const narrowPost = await listen(t, narrow)
  const gone = clientsGone(narrow)
  await narrowPost('/provision', { userID: 'rita', platformID: 5 })
  emulator.resetCounts()
  const first = hold()
  emulator.injectFault('/auth/force_logout', first.fault, 2)
  const leave = new AbortController()
  const leaving = narrowPost('/revoke', { userID: 'rita' }, leave.signal)
  await waitFor(() => emulator.callCount('/auth/force_logout') === 2, 'two calls sent, seven waiting for a connection')
  leave.abort()
  t.equal((await leaving).status, 0)
  await waitFor(() => gone() === 1, 'the gateway to see the client leave')
  first.release()
  await waitFor(() => emulator.callCount('/auth/force_logout') === 9, 'the seven waiting calls to be sent all the same')
  t.pass('all nine platforms logged out after the caller left')
})

t.test('a client that leaves before its flow starts causes no OpenIM call', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...QUIET, OPENIM_POOL_CONNECTIONS: '1' })
  const post = await listen(t, app)
  const gone = clientsGone(app)
  await post('/provision', { userID: 'warm', platformID: 5 })
  emulator.resetCounts()
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault)
  const holding = post('/provision', { userID: 'holder', platformID: 5 })
  await waitFor(() => emulator.callCount('/user/account_check') === 1, 'the only connection to be busy')
  const leave = new AbortController()
  const queued = post('/provision', { userID: 'queued', platformID: 5 }, leave.signal)
  await waitFor(async () => (await metric(app, /^openim_gateway_openim_pending_calls (\d+)$/m)) === 1, 'the second call to wait for the connection')
  leave.abort()
  await queued
  await waitFor(() => gone() === 1, 'the gateway to see the client leave')
  release()
  t.equal((await holding).status, 201)
  await waitFor(async () => (await abandoned(app)) === 1, 'the queued flow to stop')
  t.notOk(emulator.recentCalls.some((call) => call.body.includes('"queued"')), 'the queued caller\'s check never reached OpenIM')
  t.equal(await metric(app, /^openim_gateway_openim_pending_calls (\d+)$/m), 0)
})
