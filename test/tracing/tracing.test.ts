import { SignJWT } from 'jose'
import t from 'tap'
import { SECRET, SERVICE_KEY, documentedPaths, provision } from '../helper.js'
import { byName, only, tracedGateway } from './traced-gateway.js'

t.test('one /provision is one trace: the server span, the provisioning flow under it, every OpenIM call under that', async (t) => {
  const { app, emulator, receiver, finish } = await tracedGateway(t)
  const response = await provision(app, { userID: 'alice', platformID: 5 })
  t.equal(response.statusCode, 201)
  await finish()

  const { spans } = receiver
  const server = only(spans, 'POST /provision')
  const flow = only(spans, 'provision')
  const calls = spans.filter((span) => span.name.startsWith('openim '))
  t.equal(server.kind, 2, 'a SERVER span')
  t.equal(server.parentSpanId, '', 'a root span')
  t.equal(server.service, 'openim-gateway')
  t.match(server.attributes, { 'http.route': '/provision', 'http.request.method': 'POST', 'http.response.status_code': 201 })
  t.equal(flow.parentSpanId, server.spanId)
  t.match(flow.attributes, { 'openim.user_id': 'alice', 'openim.platform_id': 5, 'provision.created': true })
  // A new user on a current OpenIM: detection mints the admin token, then check, register, check, mint.
  t.same(calls.map((span) => span.name).sort(), [
    'openim /auth/get_admin_token', 'openim /auth/get_user_token', 'openim /user/account_check', 'openim /user/account_check', 'openim /user/user_register'
  ])
  for (const call of calls) {
    t.equal(call.parentSpanId, flow.spanId, `${call.name} is a child of the flow`)
    t.equal(call.kind, 3, 'a CLIENT span')
    t.match(call.attributes, { 'openim.outcome': 'ok', 'openim.operation_id': response.headers['x-request-id'], 'server.address': '127.0.0.1' })
  }
  t.same(new Set(spans.map((span) => span.traceId)).size, 1, 'one trace')
  t.equal(spans.length, 2 + calls.length, 'no hook or handler spans')

  // OpenIM received a traceparent on every call, naming the span of that call.
  t.equal(emulator.recentCalls.length, calls.length)
  const callSpanIds = new Set(calls.map((span) => span.spanId))
  for (const call of emulator.recentCalls) {
    const [, traceId, parentId, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(call.traceparent ?? '') ?? []
    t.equal(traceId, server.traceId, `${call.path}: the trace id`)
    t.ok(callSpanIds.has(parentId ?? ''), `${call.path}: the call's own span as parent`)
    t.equal(flags, '01')
  }
})

t.test('an OpenIM refusal marks the call span with the outcome and errCode, and the flow with the error', async (t) => {
  const { app, emulator, receiver, finish } = await tracedGateway(t)
  await provision(app, { userID: 'bob', platformID: 5 })
  emulator.injectFault('/auth/get_user_token', { kind: 'errCode', errCode: 1102, errMsg: 'RegisteredAlreadyError' })
  const response = await provision(app, { userID: 'bob', platformID: 5, reuse: false })
  t.equal(response.statusCode, 502)
  await finish()
  const failed = receiver.spans.filter((span) => span.name === 'openim /auth/get_user_token' && span.status.code === 2)
  t.equal(failed.length, 1)
  t.match(failed[0]!.attributes, { 'openim.outcome': 'rejected', 'openim.err_code': 1102, 'error.type': 'rejected' })
  const flows = byName(receiver.spans, 'provision').filter((span) => span.status.code === 2)
  t.equal(flows.length, 1)
  t.match(flows[0]!.attributes, { 'error.type': 'rejected' })
  const server = receiver.spans.find((span) => span.name === 'POST /provision' && span.attributes['http.response.status_code'] === 502)
  t.ok(server, 'the server span carries the answer\'s status')
})

t.test('every log line written inside a traced request carries its trace and span ids', async (t) => {
  const { app, receiver, logs, finish } = await tracedGateway(t)
  await provision(app, { userID: 'frank', platformID: 5 })
  await finish()
  const requestId = logs.records.find((record) => record.msg === 'request completed')?.reqId
  const lines = logs.records.filter((record) => record.reqId === requestId)
  t.ok(lines.length >= 6, 'the request line and the OpenIM call lines')
  const server = only(receiver.spans, 'POST /provision')
  const spanIds = new Set(receiver.spans.map((span) => span.spanId))
  for (const line of lines) {
    t.equal(line.trace_id, server.traceId, String(line.msg))
    t.ok(spanIds.has(String(line.span_id)), `${String(line.msg)}: a span of the trace`)
  }
  const callLine = lines.find((line) => line.msg === 'OpenIM call')
  t.not(callLine?.span_id, server.spanId, 'an OpenIM call line names the call\'s span')
  t.notOk(logs.records.find((record) => record.msg === 'tracing on: exporting spans over OTLP/HTTP' && 'trace_id' in record), 'lines outside a request have none')
})

t.test('no span holds the secret, an API key, a JWT, an OpenIM token or the query string', async (t) => {
  const jwtSecret = 'a-jwt-secret-of-at-least-32-characters!'
  const { app, emulator, receiver, finish } = await tracedGateway(t, { JWT_SECRET: jwtSecret, JWT_AUDIENCE: 'chat' })
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('grace').setAudience('chat').setIssuedAt().setExpirationTime('5m')
    .sign(new TextEncoder().encode(jwtSecret))
  const answers = [
    await provision(app, { userID: 'grace', platformID: 5 }, { authorization: `Bearer ${jwt}` }),
    await app.inject({
      method: 'POST', url: `/provision?apiKey=${SERVICE_KEY}&token=query-credential`, payload: { userID: 'heidi', platformID: 5 }, headers: { 'x-api-key': SERVICE_KEY }
    }),
    await provision(app, { userID: 'ivan', platformID: 5 }, { 'x-api-key': 'not-a-valid-key-at-all' })
  ]
  t.same(answers.map((answer) => answer.statusCode), [201, 201, 401])
  await finish()
  const openimTokens = emulator.recentCalls.map((call) => call.token).filter((token) => token !== undefined)
  const userTokens = answers.slice(0, 2).map((answer) => answer.json().token as string)
  const credentials = [SECRET, SERVICE_KEY, jwt, jwtSecret, 'query-credential', 'not-a-valid-key-at-all', ...openimTokens, ...userTokens]
  t.ok(receiver.bodies.length > 0 && receiver.spans.length > 0)
  const exported = Buffer.concat(receiver.bodies)
  for (const credential of credentials) t.notOk(exported.includes(credential), `${credential.slice(0, 12)}… is not exported`)
  const servers = byName(receiver.spans, 'POST /provision')
  t.equal(servers.length, 3)
  t.ok(servers.every((span) => span.attributes['url.path'] === '/provision'), 'the path is kept, the query string dropped')
  t.notOk(exported.includes('apiKey='), 'no query string anywhere')
})

t.test('probes, scrapes and docs are not traced, nor the readiness check\'s OpenIM call', async (t) => {
  const { app, emulator, receiver, finish } = await tracedGateway(t)
  const { open } = await documentedPaths(app)
  for (const url of [...open, '/docs/json', '/healthz?x=1']) await app.inject({ url })
  const unknown = await app.inject({ url: '/nowhere?secret=1' })
  t.equal(unknown.statusCode, 404)
  await finish()
  t.ok(emulator.recentCalls.length > 0, 'readiness called OpenIM')
  t.ok(emulator.recentCalls.every((call) => call.traceparent === undefined))
  const server = only(receiver.spans, 'GET')
  t.equal(server.attributes['url.path'], '/nowhere', 'only the unknown route, named by its method')
  t.equal(only(receiver.spans, 'notFoundHandler').parentSpanId, server.spanId)
  t.equal(receiver.spans.length, 2)
})

t.test('spans reach the endpoint as OTLP/HTTP protobuf with the configured service name and headers', async (t) => {
  const { app, receiver, finish } = await tracedGateway(t, {
    OTEL_SERVICE_NAME: 'gateway-eu', OTEL_EXPORTER_OTLP_HEADERS: 'x-backend-key=abc%20def', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-dataset=gateway'
  })
  await provision(app, { userID: 'judy', platformID: 5 })
  await finish()
  t.ok(receiver.requests.length > 0)
  for (const request of receiver.requests) {
    t.equal(request.path, '/v1/traces')
    t.equal(request.headers['content-type'], 'application/x-protobuf')
    t.equal(request.headers['x-backend-key'], 'abc def')
    t.equal(request.headers['x-dataset'], 'gateway')
  }
  t.ok(receiver.spans.every((span) => span.service === 'gateway-eu'))
})

t.test('failed exports are logged as a warning, at most once a minute, without the headers', async (t) => {
  const { app, receiver, logs, finish } = await tracedGateway(t, { OTEL_EXPORTER_OTLP_HEADERS: 'x-backend-key=very-secret-key' })
  await receiver.close()
  await provision(app, { userID: 'mallory', platformID: 5 })
  await finish()
  const warnings = logs.records.filter((record) => record.msg === 'tracing: spans could not be exported to the OTLP endpoint')
  t.equal(warnings.length, 1)
  t.match(warnings[0], { level: 40, failures: 1 })
  t.notMatch(logs.text, 'very-secret-key')
})
