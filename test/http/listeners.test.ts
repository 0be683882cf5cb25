import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildMetricsApp } from '../../src/http/metrics-app.js'
import { buildGateway, documentedPaths, gatewayConfig, rawConnection, startOpenIm, waitFor } from '../helper.js'

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

/** The status line, headers and JSON body of a raw HTTP answer. */
function parseAnswer (raw: string) {
  const [head = '', body = ''] = raw.split('\r\n\r\n')
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine.split(' ')[1]), headers, json: JSON.parse(body) as Record<string, unknown> }
}

t.test('a client dripping its headers is cut once HTTP_HEADERS_TIMEOUT_MS has passed, with a 408 in the error shape', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '600000' })
  const connection = await rawConnection(t, await listen(app))
  const started = Date.now()
  connection.socket.write('POST /provision HTTP/1.1\r\nHost: gateway\r\nX-Drip: ')
  // One header byte every 100 ms, 120 times: at least 12 s, which neither Node's defaults (60 s for headers) nor
  // HTTP_REQUEST_TIMEOUT_MS would end; only the headers timeout can cut it.
  for (let i = 0; i < 120 && connection.closedAt === undefined; i++) {
    connection.socket.write('a')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(connection.closedAt !== undefined, 'the connection was cut')
  // Timers never fire early, however busy the machine: not before the limit.
  t.ok(connection.closedAt! - started >= 1000, `cut after ${connection.closedAt! - started} ms, not before HTTP_HEADERS_TIMEOUT_MS`)
  const answer = parseAnswer(connection.received)
  t.equal(answer.status, 408)
  t.match(answer.json, { statusCode: 408, code: 'REQUEST_TIMEOUT', error: 'Request Timeout', requestId: answer.headers['x-request-id'] })
  t.equal(answer.headers.connection, 'close')
})

t.test('headers and request timeouts above Node\'s 300 s default start', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { HTTP_HEADERS_TIMEOUT_MS: '400000', HTTP_REQUEST_TIMEOUT_MS: '500000' })
  await app.ready()
  t.equal(app.server.headersTimeout, 400_000)
  t.equal(app.server.requestTimeout, 500_000)
})

t.test('requests the HTTP parser refuses get the JSON error shape and a request id; their bytes are never logged', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  const port = await listen(app)

  const malformed = await rawConnection(t, port)
  malformed.socket.write('POST /provision HTTP/1.1\r\nHost: gateway\r\nx-api-key: leaked-key-0123456789\r\nthis is no header\r\n\r\n')
  await waitFor(() => malformed.closedAt !== undefined, 'the malformed request to be answered')
  const bad = parseAnswer(malformed.received)
  t.equal(bad.status, 400)
  t.match(bad.json, { statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: /not valid HTTP/ })
  t.equal(bad.json.requestId, bad.headers['x-request-id'])
  t.match(bad.headers['content-type'], /application\/json/)

  const oversized = await rawConnection(t, port)
  oversized.socket.write(`GET /healthz HTTP/1.1\r\nHost: gateway\r\nx-api-key: leaked-key-0123456789\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`)
  await waitFor(() => oversized.closedAt !== undefined, 'the oversized request to be answered')
  const large = parseAnswer(oversized.received)
  t.equal(large.status, 431)
  t.match(large.json, { statusCode: 431, code: 'HEADERS_TOO_LARGE', error: 'Request Header Fields Too Large' })
  t.not(large.json.requestId, bad.json.requestId, 'a fresh id each time')

  const refusals = logs.records.filter((line) => line.msg === 'request refused by the HTTP parser')
  t.same(refusals.map((line) => line.statusCode), [400, 431], 'each refusal logged once, with its id')
  t.same(refusals.map((line) => line.reqId), [bad.json.requestId, large.json.requestId])
  t.same(refusals.map((line) => line.level), [20, 20], 'at debug: a client can cause them as fast as it connects')
  t.notMatch(logs.text, /leaked-key|aaaaaaaa|this is no header/, 'no raw bytes in the logs')
})

t.test('HTTP_MAX_CONNECTIONS: connections beyond the cap are closed at once; the others keep working', async (t) => {
  const emulator = await startOpenIm(t)
  // All from one address here: its own cap (a quarter of the total by default) set to the total.
  const { app } = await buildGateway(t, emulator.url, { HTTP_MAX_CONNECTIONS: '3', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '3' })
  const port = await listen(app)
  const held = [await rawConnection(t, port), await rawConnection(t, port), await rawConnection(t, port)]
  await waitFor(async () => await new Promise<number>((resolve) => app.server.getConnections((_error, count) => resolve(count))) === 3, 'three connections')
  const refused = await rawConnection(t, port)
  await waitFor(() => refused.closedAt !== undefined, 'the fourth connection to be closed')
  t.equal(refused.received, '', 'closed without an answer')
  held[0]!.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n')
  await waitFor(() => held[0]!.received.includes('"status":"ok"'), 'a held connection to be served')
  t.ok(held.every((connection) => connection.closedAt === undefined))
  t.match((await app.inject({ url: '/metrics' })).body, /^openim_gateway_connections_refused_total\{listener="api",limit="total"\} 1$/m)
})

t.test('HTTP_MAX_CONNECTIONS_PER_ADDRESS: one address holds its share at most; another one (the kubelet\'s) still gets /healthz', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { HTTP_MAX_CONNECTIONS: '8', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '2' })
  const port = await listen(app)
  const flood: Array<Awaited<ReturnType<typeof rawConnection>>> = []
  for (let i = 0; i < 8; i++) flood.push(await rawConnection(t, port, '127.0.0.2'))
  await waitFor(() => flood.filter((connection) => connection.closedAt !== undefined).length === 6, 'six of the eight to be closed')
  t.same(flood.map((connection) => connection.closedAt === undefined), [true, true, false, false, false, false, false, false], 'the first two are kept')
  t.equal(flood[2]!.received, '', 'the others closed without an answer')
  for (const connection of flood.slice(0, 2)) {
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n')
    await waitFor(() => connection.received.includes('"status":"ok"'), 'a kept connection to be served')
  }
  const probe = await rawConnection(t, port, '127.0.0.1')
  probe.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n')
  await waitFor(() => probe.closedAt !== undefined, 'the probe to be answered')
  t.match(probe.received, /^HTTP\/1\.1 200 [^]*"status":"ok"/, 'liveness from another address')
  t.match((await app.inject({ url: '/metrics' })).body, /^openim_gateway_connections_refused_total\{listener="api",limit="per_address"\} 6$/m)
})

t.test('METRICS_PORT: /metrics only on its own listener, which serves nothing else', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { METRICS_PORT: '0' })
  const onMain = await app.inject({ url: '/metrics' })
  t.equal(onMain.statusCode, 404, 'not on the API listener')
  t.match(onMain.json(), { code: 'NOT_FOUND' })
  t.notOk(Object.keys((await app.inject({ url: '/docs/json' })).json().paths).includes('/metrics'))

  const metricsApp = await buildMetricsApp(gatewayConfig(emulator.url, { METRICS_PORT: '0' }), app.metrics, app.log)
  t.teardown(() => metricsApp.close())
  const scrape = await metricsApp.inject({ url: '/metrics' })
  t.equal(scrape.statusCode, 200)
  t.match(scrape.body, /^openim_gateway_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1$/m,
    'the API listener\'s metrics')
  // Every path the API documents, but the scrape itself.
  for (const url of [...(await documentedPaths(app)).all.filter((path) => path !== '/metrics'), '/docs']) {
    const response = await metricsApp.inject({ url })
    t.equal(response.statusCode, 404, url)
    t.match(response.json(), { code: 'NOT_FOUND', requestId: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ }, 'a UUID, not a counter')
    t.equal(response.headers['x-request-id'], response.json().requestId, 'named in x-request-id too')
  }
  const named = await metricsApp.inject({ url: '/nope', headers: { 'x-request-id': 'scrape-7' } })
  t.equal(named.json().requestId, 'scrape-7', 'a caller\'s sane request id is kept, as on the API port')
  t.equal(named.headers['x-request-id'], 'scrape-7')
})
