import t from 'tap'
import { buildGateway, provision, startOpenIm, waitFor } from '../helper.js'

t.test('/readyz is 200 when OpenIM answers, flips to 503 openim_unreachable when it goes away, and back', async (t) => {
  const emulator = await startOpenIm(t)
  const port = Number(new URL(emulator.url).port)
  const { app } = await buildGateway(t, emulator.url, { READINESS_CACHE_MS: '0' })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
  await emulator.close()
  const down = await app.inject({ url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.match(down.json(), { status: 'not_ready', reason: 'openim_unreachable' })
  await emulator.listen(port)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
})

t.test('/readyz says openim_auth_failed for a wrong secret and openim_timeout for a hung OpenIM', async (t) => {
  const emulator = await startOpenIm(t)
  const { app: wrong } = await buildGateway(t, emulator.url, { OPENIM_SECRET: 'wrong', READINESS_CACHE_MS: '0' })
  t.match((await wrong.inject({ url: '/readyz' })).json(), { status: 'not_ready', reason: 'openim_auth_failed' })
  const { app } = await buildGateway(t, emulator.url, { OPENIM_TIMEOUT_MS: '200', READINESS_CACHE_MS: '0' })
  emulator.injectFault('/auth/get_admin_token', { kind: 'hang' })
  t.match((await app.inject({ url: '/readyz' })).json(), { reason: 'openim_timeout' })
})

t.test('/readyz answers are cached and concurrent probes share one check', async (t) => {
  const emulator = await startOpenIm(t, { latencyMs: 10 })
  const { app } = await buildGateway(t, emulator.url, { READINESS_CACHE_MS: '60000' })
  await Promise.all(Array.from({ length: 10 }, () => app.inject({ url: '/readyz' })))
  await app.inject({ url: '/readyz' })
  t.equal(emulator.callCount('/user/account_check'), 1)
})

t.test('/metrics exposes request, OpenIM call, provision and admin-token metrics with the prefix', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'nora', platformID: 5 })
  await provision(app, { userID: 'nora', platformID: 1 })
  await provision(app, { userID: 'nora', platformID: 5 })
  await provision(app, { userID: 'bad-id', platformID: 5 })
  const response = await app.inject({ url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /text\/plain/)
  const text = response.body
  t.match(text, /openim_gateway_http_request_duration_seconds_count\{method="POST",route="\/provision",status_code="201"\} 1/)
  // nora: check, check after registering, check (platform 1), none (platform 5 again: the remembered token);
  // bad-id: one check (only new users are held to the format rule)
  t.match(text, /openim_gateway_openim_call_duration_seconds_count\{path="\/user\/account_check",outcome="ok"\} 4/)
  t.match(text, /openim_gateway_openim_call_duration_seconds_bucket\{le="0.005",path="\/auth\/get_user_token",outcome="ok"\}/)
  t.match(text, /openim_gateway_provisions_total\{outcome="created",code=""\} 1/)
  t.match(text, /openim_gateway_provisions_total\{outcome="existing",code=""\} 1/)
  t.match(text, /openim_gateway_provisions_total\{outcome="reused",code=""\} 1/)
  t.match(text, /openim_gateway_openim_call_duration_seconds_count\{path="\/auth\/parse_token",outcome="ok"\} 1/)
  t.match(text, /openim_gateway_token_store_lookups_total\{result="hit"\} 1/)
  t.match(text, /openim_gateway_token_store_lookups_total\{result="miss"\} 2/)
  t.match(text, /openim_gateway_provisions_total\{outcome="failed",code="INVALID_USER_ID"\} 1/)
  t.match(text, /openim_gateway_admin_token_mints_total\{generation="current"\} 1/)
  t.match(text, /openim_gateway_process_cpu_user_seconds_total/)
  t.match(text, /openim_gateway_nodejs_eventloop_lag_seconds/)
})

t.test('/metrics renders at most once a second: scrapes close together share one text, a later one is fresh', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const scrape = async () => (await app.inject({ url: '/metrics' })).body
  const healthzCounted = /^openim_gateway_http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1$/m
  const together = await Promise.all(Array.from({ length: 20 }, scrape))
  t.equal(new Set(together).size, 1, 'twenty concurrent scrapes, one text')
  // A scrape, a request, another scrape: the second is the first's text, without the request. Each try starts
  // after the last render has expired; a machine that stalls most of a second in between gets another try.
  let checked = false
  for (let attempt = 0; attempt < 10 && !checked; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const started = performance.now()
    const first = await scrape()
    await app.inject({ url: '/healthz' })
    const second = await scrape()
    if (performance.now() - started > 900) continue
    t.equal(second, first, 'the same render')
    t.notMatch(second, healthzCounted, 'the request in between is not in it yet')
    checked = true
  }
  t.ok(checked, 'two scrapes within a second of each other')
  await waitFor(async () => healthzCounted.test(await scrape()), 'a scrape a second later to show it', 10_000)
})

t.test('an OpenIM failure is labelled by its errCode or kind', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'olga', platformID: 5 })
  // Other platforms, for which no token is remembered: each provision checks the account.
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1001 })
  await provision(app, { userID: 'olga', platformID: 1 })
  emulator.injectFault('/user/account_check', { kind: 'html' })
  await provision(app, { userID: 'olga', platformID: 2 })
  const text = (await app.inject({ url: '/metrics' })).body
  t.match(text, /openim_call_duration_seconds_count\{path="\/user\/account_check",outcome="1001"\} 1/)
  t.match(text, /openim_call_duration_seconds_count\{path="\/user\/account_check",outcome="bad_response"\} 1/)
  t.match(text, /provisions_total\{outcome="failed",code="rejected"\} 1/)
})

t.test('one info log line per request with status, latency and caller; OpenIM calls at debug with path, errCode and duration', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  await app.openim.connectedGeneration({ operationID: 'warm-up' })
  await provision(app, { userID: 'pia', platformID: 5 }, { 'x-request-id': 'trace-77' })
  const mine = logs.records.filter((line) => line.reqId === 'trace-77')
  const completed = mine.filter((line) => line.msg === 'request completed')
  t.equal(completed.length, 1)
  t.match(completed[0], { level: 30, statusCode: 201, method: 'POST', url: '/provision', caller: 'service:tests', ip: '127.0.0.1' })
  t.type(completed[0]?.responseTimeMs, 'number')
  const calls = mine.filter((line) => line.msg === 'OpenIM call')
  t.equal(calls.length, 4)
  t.match(calls[0], { level: 20, openim: { path: '/user/account_check', outcome: 'ok' } })
  t.type((calls[0]?.openim as { durationMs: unknown }).durationMs, 'number')
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1001 })
  await provision(app, { userID: 'pia', platformID: 1 }, { 'x-request-id': 'trace-78' })
  t.ok(logs.records.some((line) => line.reqId === 'trace-78' && (line.openim as { errCode?: number } | undefined)?.errCode === 1001))
})

t.test('probes log at debug, not info', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'info' })
  await app.inject({ url: '/healthz' })
  await app.inject({ url: '/metrics' })
  t.equal(logs.records.filter((line) => line.msg === 'request completed').length, 0)
})

t.test('refused requests get their request line too, without a caller', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  await app.inject({ method: 'POST', url: '/provision', payload: {}, headers: { 'x-request-id': 'no-creds' } })
  const completed = logs.records.filter((line) => line.reqId === 'no-creds' && line.msg === 'request completed')
  t.equal(completed.length, 1)
  t.match(completed[0], { statusCode: 401, ip: '127.0.0.1' })
  t.notOk('caller' in completed[0]!)
})
