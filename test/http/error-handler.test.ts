import t from 'tap'
import { CallCancelled } from '../../src/openim/transport.js'
import { buildGateway, startOpenIm } from '../helper.js'

const ERROR_KEYS = ['code', 'error', 'message', 'requestId', 'statusCode']

// No route of the gateway fails this way on purpose; a route added to the real app stands for the bug that
// one day will, so the answer it gets is the one the error handler gives every such bug.
async function appThrowing (t: { teardown (fn: () => unknown): void }, error: Error) {
  const emulator = await startOpenIm(t)
  const gateway = await buildGateway(t, emulator.url)
  gateway.app.get('/failing', async () => { throw error })
  return gateway
}
t.test('an unexpected error answers 500 INTERNAL_ERROR "internal error"; its detail goes only to an error-level log line', async (t) => {
  const detail = "Cannot read properties of undefined (reading 'token') in /srv/gateway/dist/provisioning/service.js"
  const { app, logs } = await appThrowing(t, new TypeError(detail))
  const response = await app.inject({ url: '/failing', headers: { 'x-request-id': 'boom-1' } })
  t.equal(response.statusCode, 500)
  t.same(Object.keys(response.json()).sort(), ERROR_KEYS)
  t.match(response.json(), { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'internal error', requestId: 'boom-1' })
  t.notMatch(response.body, /Cannot read|srv\/gateway|TypeError/, 'neither the message nor the stack reach the caller')
  const logged = logs.records.find((line) => line.msg === 'unexpected error')
  t.match(logged, { level: 50, reqId: 'boom-1', err: { type: 'TypeError', message: detail } }, 'the operator sees what happened')
})

t.test('an unexpected error carrying a 5xx statusCode is still 500 "internal error"', async (t) => {
  const { app } = await appThrowing(t, Object.assign(new Error('upstream pool exhausted at 10.0.0.7'), { statusCode: 503 }))
  const response = await app.inject({ url: '/failing' })
  t.equal(response.statusCode, 500)
  t.match(response.json(), { code: 'INTERNAL_ERROR', message: 'internal error' })
})

t.test('an error carrying a 4xx statusCode answers that status as INVALID_REQUEST with its message', async (t) => {
  const { app } = await appThrowing(t, Object.assign(new Error('the query string is too deep'), { statusCode: 422 }))
  const response = await app.inject({ url: '/failing' })
  t.equal(response.statusCode, 422)
  t.same(Object.keys(response.json()).sort(), ERROR_KEYS)
  t.match(response.json(), { code: 'INVALID_REQUEST', error: 'Unprocessable Entity', message: 'the query string is too deep' })
})

t.test('work stopped because its caller had gone (CallCancelled) is 499 CLIENT_CLOSED_REQUEST at info, never an unexpected error', async (t) => {
  const { app, logs } = await appThrowing(t, new CallCancelled('/user/user_register was not sent: nobody waits for it any more'))
  const response = await app.inject({ url: '/failing', headers: { 'x-request-id': 'gone-1' } })
  t.equal(response.statusCode, 499)
  t.match(response.json(), { statusCode: 499, code: 'CLIENT_CLOSED_REQUEST', error: 'Client Closed Request', requestId: 'gone-1' })
  t.match(logs.records.find((line) => line.reqId === 'gone-1' && line.code === 'CLIENT_CLOSED_REQUEST'), { level: 30, msg: 'the caller left before the answer' })
  t.notOk(logs.records.some((line) => line.msg === 'unexpected error'))
})
