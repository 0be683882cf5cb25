import t from 'tap'
import { Redis } from 'ioredis'
import { KeyNames } from '../../src/redis/key-names.js'
import { SECRET, buildGateway, provision, redisCommands, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'

// The rate-limit counter of the test service (the budget /provision, /revoke and /users share), as the store names it.
const COUNTER = new KeyNames(SECRET).rateLimit('', 'service:tests')
const degradedLines = (records: Array<Record<string, unknown>>) => records.filter((line) => /Redis degraded/.test(String(line.msg)))

t.test('a Redis user without EVAL: no request fails, limits hold per replica, the reason is said once; allowed again, Redis is used again', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-password-123', '~*', '+@all', '-eval', '-evalsha')
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '3', REDIS_URL: server.url.replace('redis://', 'redis://limited:limited-password-123@') })
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await provision(app, { userID: 'una', platformID: 5 })).statusCode)
  t.same(statuses, [201, 200, 200, 429], 'never a 500: the limit still holds, from memory')
  t.equal(/^openim_gateway_redis_degraded (\d)$/m.exec(await app.metrics.registry.metrics())?.[1], '1')
  t.match(degradedLines(logs.records), [{ level: 50, reason: /^the rate limiter's script: NOPERM .*'eval'/, hint: /ACL SETUSER <user> .*\+eval/ }])
  t.equal(await admin.exists(COUNTER), 0, 'nothing counted in Redis')
  // Counted, not slept: every probe runs the script again.
  const sent = redisCommands(t, app.redis!.client)
  await waitFor(() => sent.length >= 2, 'the probe to ask again twice')
  t.equal(degradedLines(logs.records).length, 1, 'said once, though the probe asked again every second')
  t.notOk(logs.records.some((line) => line.msg === 'unexpected error'))

  await admin.call('ACL', 'SETUSER', 'limited', '+eval', '+evalsha')
  await waitFor(async () => /^openim_gateway_redis_degraded 0$/m.test(await app.metrics.registry.metrics()), 'the probe to find the script allowed')
  t.equal((await provision(app, { userID: 'una', platformID: 5 })).statusCode, 200, 'fresh counters in Redis')
  t.equal(await admin.get(COUNTER), '1')
})

t.test('EVAL gone from Redis (renamed away) fails no request either', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, ['--rename-command', 'EVAL', ''])
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { REDIS_URL: server.url })
  t.equal((await provision(app, { userID: 'vera', platformID: 5 })).statusCode, 201)
  t.match(degradedLines(logs.records), [{ reason: 'the rate limiter\'s script: ERR unknown command \'eval\'' }])
})

t.test('a command error that is not Redis\'s state (the counter holds a list): that request is counted in memory, told once', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { REDIS_URL: server.url })
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.rpush(COUNTER, 'not a counter')
  t.same([(await provision(app, { userID: 'wim', platformID: 5 })).statusCode, (await provision(app, { userID: 'wim', platformID: 5 })).statusCode], [201, 200])
  t.equal(degradedLines(logs.records).length, 0, 'Redis itself serves: the other users keep using it')
  t.match(logs.records.filter((line) => /Redis refused the rate limiter's command/.test(String(line.msg))), [{ level: 40, reason: /WRONGTYPE/, requests: 1 }], 'once, not per request')
})
