import { once } from 'node:events'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { Agent, fetch } from 'undici'
import { SERVICE_KEY, buildGateway, clientsGone, hold, post, startOpenIm, waitFor, type LogCapture } from '../helper.js'

// What an import holds in memory is bounded by how many run at once (IMPORT_MAX_CONCURRENT), decided before the
// body is read. These callers hold requests open and disconnect, so the gateway listens on a socket.
const QUIET = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', IMPORT_RATE_LIMIT_MAX: '100000' }

async function listen (t: { teardown (fn: () => unknown): void }, app: FastifyInstance) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const send = async (users: unknown[], leave?: AbortSignal) => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/users/import`, {
        method: 'POST',
        body: JSON.stringify({ users }),
        signal: leave,
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }
      })
      return { status: response.status, retryAfter: response.headers.get('retry-after'), json: await response.json() as Record<string, unknown> }
    } catch {
      return { status: 0, retryAfter: null, json: {} }
    }
  }
  return { port, send }
}

/** Headers announcing a large body, and only its first bytes: the answer must come without the rest. */
async function withoutBody (port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST /users/import HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n' +
    `x-api-key: ${SERVICE_KEY}\r\ncontent-length: 1000000\r\n\r\n{"users":[`)
  let answer = ''
  socket.on('data', (chunk) => { answer += String(chunk) })
  await waitFor(() => answer.includes('\r\n\r\n{'), 'an answer before the body was sent')
  socket.destroy()
  return answer
}

const auditLines = (logs: LogCapture) => logs.records.filter((line) => line.msg === 'audit')

t.test('beyond IMPORT_MAX_CONCURRENT imports, 503 OVERLOADED with Retry-After, before the body is read; a slot frees when an import ends', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...QUIET, IMPORT_MAX_CONCURRENT: '2' })
  const { port, send } = await listen(t, app)
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault, 2)
  const running = [send([{ userID: 'first_1' }]), send([{ userID: 'second_1' }])]
  await waitFor(() => emulator.callCount('/user/account_check') === 2, 'two imports to be running')

  const refused = await withoutBody(port)
  t.match(refused, /^HTTP\/1\.1 503 /, 'refused while the body was still on its way')
  t.match(refused, /retry-after: 1\r\n/i)
  t.match(refused, /"code":"OVERLOADED"/)
  t.match(refused, /IMPORT_MAX_CONCURRENT/)
  const third = await send([{ userID: 'third_1' }])
  t.match(third, { status: 503, retryAfter: '1', json: { code: 'OVERLOADED' } })

  release()
  t.same((await Promise.all(running)).map((answer) => answer.status), [200, 200])
  t.match(await send([{ userID: 'third_1' }]), { status: 200, json: { created: 1 } }, 'admitted once a running import ended')
  t.notOk(emulator.users.has('first_2'))
})

t.test('a slot is freed whatever ends the request: validation errors, 413, many imports in a row', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...QUIET, IMPORT_MAX_CONCURRENT: '1', IMPORT_BODY_LIMIT_BYTES: '65536' })
  for (let i = 0; i < 3; i++) t.equal((await post(app, '/users/import', { users: [{ userID: 'x', extra: 1 }] })).statusCode, 400)
  for (let i = 0; i < 3; i++) t.equal((await post(app, '/users/import', { users: [{ userID: 'x', ex: 'e'.repeat(70_000) }] })).statusCode, 413)
  for (let i = 0; i < 5; i++) t.equal((await post(app, '/users/import', { users: [{ userID: `ok_${i}` }] })).statusCode, 200)
})

t.test('a caller that leaves keeps its slot until its import has finished', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { ...QUIET, IMPORT_MAX_CONCURRENT: '1' })
  const { send } = await listen(t, app)
  const gone = clientsGone(app)
  const { fault, release } = hold()
  emulator.injectFault('/user/user_register', fault)
  const leave = new AbortController()
  const leaving = send([{ userID: 'gone_1' }], leave.signal)
  await waitFor(() => emulator.callCount('/user/user_register') === 1, 'the registration to be sent')
  leave.abort()
  t.equal((await leaving).status, 0)
  await waitFor(() => gone() === 1, 'the gateway to see the caller leave')
  t.match(await send([{ userID: 'next_1' }]), { status: 503, json: { code: 'OVERLOADED' } }, 'the import still runs: its memory is still held')
  release()
  await waitFor(() => auditLines(logs).length === 1, 'the import to finish')
  await waitFor(async () => (await send([{ userID: 'next_1' }])).status === 200, 'the slot to come free')
  t.ok(emulator.users.has('gone_1') && emulator.users.has('next_1'))
})
