import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { OpenImEmulator } from '../../src/emulator/emulator.js'
import { Agent, fetch } from 'undici'
import { SERVICE_KEY, adminToken, buildGateway, clientsGone, hold, openImCall, startOpenIm, waitFor, type LogCapture } from '../helper.js'

// Audit lines say what happened, not what the caller saw: a caller that leaves (or is answered 504) does not
// undo what was already sent to OpenIM. These callers really disconnect, so the gateway listens on a socket.
const QUIET = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_MAX: '100000' }

async function listen (t: { teardown (fn: () => unknown): void }, app: FastifyInstance) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  return async (method: string, path: string, body: unknown, leave?: AbortSignal): Promise<number> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        body: JSON.stringify(body),
        signal: leave,
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY, 'x-request-id': `${method}-${path.replaceAll('/', '_')}` }
      })
      await response.arrayBuffer()
      return response.status
    } catch {
      return 0
    }
  }
}

const auditLines = (logs: LogCapture) => logs.records.filter((line) => line.msg === 'audit').map((line) => line.audit as Record<string, unknown>)
// The registry itself, not /metrics: a scrape within a second of the last one shares its render.
const metric = async (app: FastifyInstance, pattern: RegExp) => Number(pattern.exec(await app.metrics.registry.metrics())?.[1] ?? 0)

/**
 * Starts a request, waits until OpenIM has received `calls` calls to `path` (the last one held there), then
 * disconnects; once the gateway has seen the caller leave, OpenIM answers.
 */
async function leaveAfter (app: FastifyInstance, emulator: OpenImEmulator, path: string, calls: number, send: (leave: AbortSignal) => Promise<number>) {
  const gone = clientsGone(app)
  const { fault, release } = hold()
  emulator.injectFault(path, fault)
  const leave = new AbortController()
  const answer = send(leave.signal)
  await waitFor(() => emulator.callCount(path) >= calls, `${path} to be sent`)
  leave.abort()
  const status = await answer
  await waitFor(() => gone() === 1, 'the gateway to see the caller leave')
  release()
  return status
}

t.test('a revoke whose caller left is audited as revoked once it completes (the tokens are dead)', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, QUIET)
  const send = await listen(t, app)
  const token = (await app.inject({ method: 'POST', url: '/provision', payload: { userID: 'warm', platformID: 5 }, headers: { 'x-api-key': SERVICE_KEY } })).json().token
  const status = await leaveAfter(app, emulator, '/auth/force_logout', 1, (leave) => send('POST', '/revoke', { userID: 'warm', platformID: 5 }, leave))
  t.equal(status, 0, 'the caller left without an answer')
  await waitFor(() => auditLines(logs).length === 2, 'the revoke to finish')
  t.same(auditLines(logs).slice(1), [{ action: 'revoke', target: 'warm', platformID: [5], outcome: 'revoked', caller: 'service:tests', requestId: 'POST-_revoke' }])
  const parsed = await openImCall(emulator.url, '/auth/parse_token', { token }, { token: await adminToken(emulator) })
  t.equal(parsed.json?.errCode, 1506, 'OpenIM holds the token kicked: the revoke happened')
  t.ok(logs.records.some((line) => line.msg === 'the caller left before the answer' && line.level === 30), 'the caller who left is an info line')
})

t.test('a revoke answered 504 is audited as revoked once its calls have all gone through', async (t) => {
  const emulator = await startOpenIm(t)
  // One connection: the nine force_logout calls of 400 ms go one after another, past the caller's 3 s deadline;
  // each alone is far within the 3 s OpenIM timeout, which the configuration keeps no longer than the deadline.
  const { app, logs } = await buildGateway(t, emulator.url, { ...QUIET, OPENIM_TIMEOUT_MS: '3000', REQUEST_DEADLINE_MS: '3000', OPENIM_POOL_CONNECTIONS: '1' })
  const send = await listen(t, app)
  emulator.injectFault('/auth/force_logout', { kind: 'delay', ms: 400 }, 9)
  t.equal(await send('POST', '/revoke', { userID: 'slow' }), 504)
  t.same(auditLines(logs), [], 'nothing audited while the calls still run')
  await waitFor(() => auditLines(logs).length > 0, 'the revoke to settle')
  t.match(auditLines(logs), [{ action: 'revoke', target: 'slow', outcome: 'revoked' }])
  t.equal(emulator.callCount('/auth/force_logout'), 9)
})

t.test('a provision whose mint was sent is audited as minted although its caller left', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, QUIET)
  const send = await listen(t, app)
  t.equal(await send('POST', '/provision', { userID: 'minty', platformID: 1 }), 201)
  const status = await leaveAfter(app, emulator, '/auth/get_user_token', 2, (leave) => send('POST', '/provision', { userID: 'minty', platformID: 5 }, leave))
  t.equal(status, 0)
  await waitFor(() => auditLines(logs).length === 2, 'the flow to finish')
  t.match(auditLines(logs)[1], { action: 'provision', target: 'minty', platformID: 5, outcome: 'minted' })
  t.notOk(auditLines(logs).some((line) => line.code === 'CLIENT_CLOSED_REQUEST'))
})

t.test('a provision stopped because its caller left says abandoned, and whether it had registered the user', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, QUIET)
  const send = await listen(t, app)
  t.equal(await send('POST', '/provision', { userID: 'warm', platformID: 5 }), 201)
  emulator.resetCounts()
  await leaveAfter(app, emulator, '/user/account_check', 1, (leave) => send('POST', '/provision', { userID: 'early', platformID: 5 }, leave))
  await leaveAfter(app, emulator, '/user/user_register', 1, (leave) => send('POST', '/provision', { userID: 'late', platformID: 5 }, leave))
  await waitFor(() => auditLines(logs).length === 3, 'both flows to stop')
  t.same(auditLines(logs).slice(1).map(({ target, outcome, registered }) => ({ target, outcome, registered })), [
    { target: 'early', outcome: 'abandoned', registered: undefined },
    { target: 'late', outcome: 'abandoned', registered: true }
  ])
  t.notOk(emulator.users.has('early'))
  t.ok(emulator.users.has('late'), 'the user registered before the flow stopped exists')
  t.equal(emulator.callCount('/auth/get_user_token'), 0, 'no token was minted for either')
})

t.test('a profile change sent before its caller left is audited as updated', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, QUIET)
  const send = await listen(t, app)
  t.equal(await send('POST', '/provision', { userID: 'pat', platformID: 5 }), 201)
  const status = await leaveAfter(app, emulator, '/user/update_user_info_ex', 1, (leave) => send('PATCH', '/users/pat', { nickname: 'Pat B.' }, leave))
  t.equal(status, 0)
  await waitFor(() => auditLines(logs).length === 2, 'the change to finish')
  t.match(auditLines(logs)[1], { action: 'update_profile', target: 'pat', outcome: 'updated' })
  t.equal(emulator.users.get('pat')?.nickname, 'Pat B.')
})

t.test('an import whose caller left mid-way: the created users are audited and counted, the rest are "not sent"; no 500', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, QUIET)
  const send = await listen(t, app)
  const users = Array.from({ length: 600 }, (_, i) => ({ userID: `left_${i}` }))
  const status = await leaveAfter(app, emulator, '/user/user_register', 1, (leave) => send('POST', '/users/import', { users }, leave))
  t.equal(status, 0)
  await waitFor(() => auditLines(logs).length === 1, 'the import to finish')
  t.same(auditLines(logs)[0], {
    action: 'import_users', counts: { users: 600, created: 250, existing: 0, failed: 350 }, outcome: 'registered', caller: 'service:tests', requestId: 'POST-_users_import'
  }, 'the chunk already sent was created; the others were not sent')
  t.equal(emulator.callCount('/user/user_register'), 1, 'no chunk was sent after the caller left')
  t.ok(emulator.users.has('left_249') && !emulator.users.has('left_250'))
  t.equal(await metric(app, /^openim_gateway_users_imported_total\{outcome="created",code=""\} (\d+)$/m), 250)
  t.equal(await metric(app, /^openim_gateway_users_imported_total\{outcome="failed",code="CLIENT_CLOSED_REQUEST"\} (\d+)$/m), 350)
  t.notOk(logs.records.some((line) => line.msg === 'unexpected error' || (line.level as number) >= 50), 'nothing at error level')
  await waitFor(() => logs.records.some((line) => line.msg === 'the caller left before the answer'), 'the 499 line')
})

t.test('an import whose caller left before anything was sent registers nobody and counts its users as not sent', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { ...QUIET, OPENIM_POOL_CONNECTIONS: '1' })
  const send = await listen(t, app)
  t.equal(await send('POST', '/provision', { userID: 'warm', platformID: 5 }), 201)
  emulator.resetCounts()
  const gone = clientsGone(app)
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault)
  const holding = send('POST', '/provision', { userID: 'holder', platformID: 5 })
  await waitFor(() => emulator.callCount('/user/account_check') === 1, 'the only connection to be busy')
  const leave = new AbortController()
  const leaving = send('POST', '/users/import', { users: [{ userID: 'never_1' }, { userID: 'never_2' }] }, leave.signal)
  await waitFor(async () => (await metric(app, /^openim_gateway_openim_pending_calls (\d+)$/m)) === 1, 'the import\'s check to wait for the connection')
  leave.abort()
  t.equal(await leaving, 0)
  await waitFor(() => gone() === 1, 'the gateway to see the caller leave')
  release()
  t.equal(await holding, 201)
  await waitFor(() => auditLines(logs).some((line) => line.action === 'import_users'), 'the import to settle')
  t.match(auditLines(logs).find((line) => line.action === 'import_users'), { counts: { users: 2, created: 0, failed: 2 }, outcome: 'unchanged' })
  t.equal(await metric(app, /^openim_gateway_users_imported_total\{outcome="failed",code="CLIENT_CLOSED_REQUEST"\} (\d+)$/m), 2)
  t.notOk(logs.records.some((line) => (line.level as number) >= 50))
})
