import t from 'tap'
import { Redis } from 'ioredis'
import { SERVICE_KEY, buildGateway, documentedPaths, post, provision, redisCommands, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'

const OTHER_KEY = 'other-service-key-0123456789'
const KEYS = `tests:${SERVICE_KEY},other:${OTHER_KEY}`

t.test('RATE_LIMIT_MAX=5: five successes, then 429 RATE_LIMITED with Retry-After; another caller is unaffected', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: KEYS, RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW: '1 minute' })
  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await provision(app, { userID: 'lena', platformID: 5 })).statusCode)
  t.same(statuses, [201, 200, 200, 200, 200, 429])
  const limited = await provision(app, { userID: 'lena', platformID: 5 })
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', requestId: limited.headers['x-request-id'] })
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  t.equal(limited.headers['x-ratelimit-limit'], '5')
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.ok(limited.headers['x-ratelimit-reset'])
  t.equal((await provision(app, { userID: 'lena', platformID: 5 }, { 'x-api-key': OTHER_KEY })).statusCode, 200, 'other caller')
  t.equal((await post(app, '/revoke', { userID: 'lena' })).statusCode, 429, '/provision and /revoke share one budget per caller')
  t.match((await app.inject({ url: '/metrics' })).body, /openim_gateway_rate_limit_rejections_total\{route="\/provision"\} 2/)
})

t.test('health, readiness, metrics and docs are not limited', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '1' })
  const { open } = await documentedPaths(app)
  t.ok(open.length > 0)
  for (const url of [...open, '/docs/json']) {
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url })).statusCode, 200, `${url} #${i + 1}`)
  }
})

t.test('without credentials the limit is per client IP, and TRUST_PROXY decides which IP that is', async (t) => {
  const emulator = await startOpenIm(t)
  const env = { GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true', RATE_LIMIT_MAX: '1' }
  const { app: direct } = await buildGateway(t, emulator.url, env)
  t.equal((await provision(direct, { userID: 'max', platformID: 5 }, { 'x-forwarded-for': '203.0.113.1' })).statusCode, 201)
  t.equal((await provision(direct, { userID: 'max', platformID: 5 }, { 'x-forwarded-for': '203.0.113.2' })).statusCode, 429, 'X-Forwarded-For ignored by default')
  const { app: proxied, logs } = await buildGateway(t, emulator.url, { ...env, TRUST_PROXY: '127.0.0.1' })
  t.equal((await provision(proxied, { userID: 'max', platformID: 5 }, { 'x-forwarded-for': '203.0.113.1' })).statusCode, 200)
  t.equal((await provision(proxied, { userID: 'max', platformID: 5 }, { 'x-forwarded-for': '203.0.113.2' })).statusCode, 200, 'another client behind the proxy')
  t.equal((await provision(proxied, { userID: 'max', platformID: 5 }, { 'x-forwarded-for': '203.0.113.1' })).statusCode, 429)
  t.ok(logs.records.some((line) => line.ip === '203.0.113.2'), 'logs show the client IP')
})

t.test('a 2 MB body is 413 PAYLOAD_TOO_LARGE; BODY_LIMIT_BYTES moves the limit', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const huge = JSON.stringify({ userID: 'nick', platformID: 5, ex: 'x'.repeat(2 * 1024 * 1024) })
  const response = await provision(app, huge, { 'content-type': 'application/json' })
  t.equal(response.statusCode, 413)
  t.match(response.json(), { code: 'PAYLOAD_TOO_LARGE', error: 'Payload Too Large' })
  t.equal(emulator.callCount(), 0)
  const { app: small } = await buildGateway(t, emulator.url, { BODY_LIMIT_BYTES: '1024' })
  const medium = JSON.stringify({ userID: 'nick', platformID: 5, ex: 'x'.repeat(2000) })
  t.equal((await provision(small, medium, { 'content-type': 'application/json' })).statusCode, 413)
})

t.test('a saturated event loop answers 503 OVERLOADED with Retry-After; liveness stays up', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '20', READINESS_REQUIRES_OPENIM: 'true' })
  const { app: lenient } = await buildGateway(t, emulator.url, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '20' })
  await app.ready()
  await lenient.ready()
  // under-pressure samples every 200 ms, and a sample reports the delay until the next one: block the event loop,
  // wait until this gateway's sampler has seen it, then send everything in the same turn of the event loop, so no
  // new sample can come between them (one after a short stall would not shed). One gateway at a time: their two
  // samplers see one stall in windows that need not overlap.
  const underPressure = (gateway: typeof app) => (gateway as unknown as { isUnderPressure (): boolean }).isUnderPressure()
  const stall = async (gateway: typeof app) => {
    const until = Date.now() + 1000
    while (Date.now() < until) { /* block the event loop */ }
    await waitFor(() => underPressure(gateway), 'the sampler to see the delay')
  }
  await stall(app)
  const [response, readiness, health] = await Promise.all([
    provision(app, { userID: 'olly', platformID: 5 }), app.inject({ url: '/readyz' }), app.inject({ url: '/healthz' })
  ])
  await stall(lenient)
  const lenientReadiness = await lenient.inject({ url: '/readyz' })
  t.equal(response.statusCode, 503)
  t.match(response.json(), { code: 'OVERLOADED' })
  t.equal(response.headers['retry-after'], '5')
  t.equal(health.statusCode, 200)
  t.equal(readiness.statusCode, 503, 'with READINESS_REQUIRES_OPENIM, readiness says so, in its own shape')
  t.same(readiness.json(), { status: 'not_ready', reason: 'gateway_overloaded', message: 'the event loop is saturated' })
  t.equal(lenientReadiness.statusCode, 200, 'by default a busy replica stays ready: new requests are shed instead')
})

t.test('Redis: two gateway instances share one limit; another caller is unaffected', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const env = { GATEWAY_API_KEYS: KEYS, RATE_LIMIT_MAX: '5', REDIS_URL: redis.url }
  const { app: first } = await buildGateway(t, emulator.url, env)
  const { app: second } = await buildGateway(t, emulator.url, env)
  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await provision(i % 2 === 0 ? first : second, { userID: 'pam', platformID: 5 })).statusCode)
  t.same(statuses.filter((status) => status === 429).length, 1)
  t.equal(statuses[5], 429, 'the sixth call, on the second instance, is limited')
  const limited = await provision(first, { userID: 'pam', platformID: 5 })
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await provision(second, { userID: 'pam', platformID: 5 }, { 'x-api-key': OTHER_KEY })).statusCode, 200)
})

t.test('Redis going away: the gateway keeps serving with per-replica limits, says so, and recovers by itself', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '3', REDIS_URL: redis.url })
  // The registry itself: GET /metrics renders at most once a second, and this test takes less.
  const metric = async () => /^openim_gateway_redis_degraded (\d)$/m.exec(await app.metrics.registry.metrics())?.[1]
  t.equal((await provision(app, { userID: 'quinn', platformID: 5 })).statusCode, 201)
  t.equal(await metric(), '0')

  await redis.stop()
  await waitFor(() => app.redis?.available === false, 'the closed connection to be noticed')
  const sent = redisCommands(t, app.redis!.client)
  const during = []
  for (let i = 0; i < 4; i++) during.push((await provision(app, { userID: 'quinn', platformID: 5 })).statusCode)
  t.same(sent, [], 'nothing waits on the missing Redis: no command is sent to it')
  t.same(during, [200, 200, 200, 429], 'the limit still holds, from memory')
  t.equal(await metric(), '1')
  t.equal(logs.records.filter((line) => line.level === 50 && /Redis degraded/.test(String(line.msg))).length, 1, 'said once')

  await redis.start()
  await waitFor(async () => {
    await provision(app, { userID: 'quinn', platformID: 5 }, { 'x-api-key': SERVICE_KEY })
    return (await metric()) === '0'
  }, 'the limiter to use Redis again')
  t.equal(logs.records.filter((line) => /Redis recovered/.test(String(line.msg))).length, 1, 'said once')
  t.equal((await provision(app, { userID: 'quinn', platformID: 5 })).statusCode, 200, 'fresh counters in the restarted Redis')
})

t.test('Redis paused (CLIENT PAUSE): one request pays the command timeout, the rest do not wait; recovery is said once', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '1000', REDIS_URL: redis.url, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  t.equal((await provision(app, { userID: 'rosa', platformID: 5 })).statusCode, 201)
  const admin = new Redis(redis.url)
  t.teardown(() => admin.disconnect())
  // Long enough that no busy machine runs out of it before the ten requests are through.
  await admin.call('CLIENT', 'PAUSE', '5000', 'ALL')

  const sent = redisCommands(t, app.redis!.client)
  for (let i = 0; i < 10; i++) t.equal((await provision(app, { userID: 'rosa', platformID: 5 })).statusCode, 200)
  t.equal(sent.length, 1, `only the first request sent a command, and paid its timeout; the rest did not wait on Redis (${sent.join(', ')})`)
  t.equal(logs.records.filter((line) => /Redis degraded/.test(String(line.msg))).length, 1, 'said once, not per request')

  await waitFor(async () => /^openim_gateway_redis_degraded 0$/m.test((await app.inject({ url: '/metrics' })).body), 'the probe to find Redis back')
  t.equal(logs.records.filter((line) => /Redis recovered/.test(String(line.msg))).length, 1)
})
