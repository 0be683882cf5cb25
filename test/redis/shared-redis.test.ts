import t from 'tap'
import { Redis } from 'ioredis'
import { RedisUnavailable, SharedRedis, type RedisCheck } from '../../src/redis/shared-redis.js'
import { gatewayRedisChecks } from '../../src/http/redis-checks.js'
import { SECRET, redisCommands, waitFor } from '../helper.js'
import { redisSettings, skipWithoutRedis, startRedis } from '../redis.js'

interface LogLine { level: 'error' | 'warn', message: string, details: object }

async function connect (t: { teardown (fn: () => unknown): void }, url: string, checks?: RedisCheck[], env: Record<string, string> = {}) {
  const lines: LogLine[] = []
  const changes: boolean[] = []
  const redis = await SharedRedis.connect({
    settings: redisSettings({ REDIS_URL: url, ...env }),
    secret: SECRET,
    log: {
      error: (details, message) => lines.push({ level: 'error', message, details }),
      warn: (details, message) => lines.push({ level: 'warn', message, details })
    },
    onStateChange: (degraded) => changes.push(degraded),
    probeIntervalMs: 200,
    checks
  })
  t.teardown(() => redis.close())
  return { redis, lines, changes }
}

const RELEASE_IF_HOLDER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"

t.test('the commands a token store and a lock need run through one call: GET/SET PX, SET NX PX, release by holder, SCAN', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const { redis, changes } = await connect(t, server.url)
  t.equal(redis.available, true)
  await redis.run((client) => client.set('token:alice:5', 'tok', 'PX', 60_000))
  t.equal(await redis.run((client) => client.get('token:alice:5')), 'tok')
  t.ok(await redis.run((client) => client.pttl('token:alice:5')) > 59_000)
  t.equal(await redis.run((client) => client.set('lock:alice', 'replica-a', 'PX', 5000, 'NX')), 'OK')
  t.equal(await redis.run((client) => client.set('lock:alice', 'replica-b', 'PX', 5000, 'NX')), null, 'held by someone else')
  t.equal(await redis.run((client) => client.eval(RELEASE_IF_HOLDER, 1, 'lock:alice', 'replica-b')), 0, 'only the holder releases')
  t.equal(await redis.run((client) => client.eval(RELEASE_IF_HOLDER, 1, 'lock:alice', 'replica-a')), 1)
  const [, keys] = await redis.run((client) => client.scan('0', 'MATCH', 'token:*', 'COUNT', 100))
  t.same(keys, ['token:alice:5'])
  t.same(changes, [], 'nothing to report while Redis answers')
})

t.test('a reply error is the caller\'s: it passes through and leaves Redis available', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const { redis } = await connect(t, server.url)
  await redis.run((client) => client.set('a-string', 'x'))
  await t.rejects(redis.run((client) => client.lpush('a-string', 'y')), /WRONGTYPE/)
  t.equal(redis.available, true)
})

t.test('paused Redis: the first command pays the timeout, every later one fails at once until the probe finds it back', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const { redis, lines, changes } = await connect(t, server.url)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  // Long enough that no busy machine runs out of it before the 21 commands are through (it cannot be lifted early:
  // a pause of ALL holds CLIENT UNPAUSE too).
  await admin.call('CLIENT', 'PAUSE', '5000', 'ALL')

  const sent = redisCommands(t, redis.client)
  await t.rejects(redis.run((client) => client.get('k')), RedisUnavailable)
  t.same(sent, ['get'], 'the first command was sent, and waited for its timeout (the log line says so)')
  t.equal(redis.available, false)
  for (let i = 0; i < 20; i++) await t.rejects(redis.run((client) => client.get('k')), RedisUnavailable)
  t.same(sent, ['get'], '20 later commands failed at once: none was sent to Redis')
  t.same(changes, [true])
  t.match(lines, [{ level: 'error', message: /Redis degraded/, details: { cause: 'timeout', reason: /timed out/, hint: /within 500 ms \(REDIS_COMMAND_TIMEOUT_MS\)/ } }])

  await waitFor(() => redis.available, 'the probe to find Redis back')
  t.same(changes, [true, false], 'each change reported once')
  t.match(lines[1], { level: 'warn', message: /Redis recovered/ })
  t.equal(await redis.run((client) => client.get('k')), null)
})

t.test('a Redis that is down at start is reported once, and joined when it comes up', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  await server.stop()
  const { redis, lines, changes } = await connect(t, server.url)
  t.equal(redis.available, false)
  t.match(lines, [{ level: 'error', message: /Redis degraded/, details: { cause: 'refused', reason: /^not reachable at start \(redis:\/\/127\.0\.0\.1:\d+\/0\): connect ECONNREFUSED/ } }])
  t.notMatch(JSON.stringify(lines), /:\/\/:[^@]*@/, 'no password in the log')
  await server.start()
  await waitFor(() => redis.available, 'Redis to be used once it is up')
  t.same(changes, [true, false])
})

t.test('a connection that closes marks Redis unavailable at once, before any command fails', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const { redis, changes } = await connect(t, server.url)
  await server.stop()
  await waitFor(() => !redis.available, 'the closed connection to be noticed')
  const sent = redisCommands(t, redis.client)
  await t.rejects(redis.run((client) => client.get('k')), RedisUnavailable)
  t.same(sent, [], 'failed at once, without sending')
  t.same(changes, [true])
})

const SCRIPT_CHECK: RedisCheck = { what: 'a script', run: (client) => client.eval('return redis.call(\'INCR\', KEYS[1])', 1, 'check:script') }

/** An ACL user that may do everything but run scripts (a Redis some operators hand out), on a fresh Redis. */
async function redisWithoutScripts (t: Parameters<typeof startRedis>[0]) {
  const server = await startRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-password-123', '~*', '+@all', '-eval', '-evalsha')
  const url = server.url.replace('redis://', 'redis://limited:limited-password-123@')
  return { admin, url }
}

t.test('a Redis that refuses what the gateway runs (NOPERM) is degraded from the start, said once with why, and stays so', async (t) => {
  if (skipWithoutRedis(t)) return
  const { admin, url } = await redisWithoutScripts(t)
  const { redis, lines, changes } = await connect(t, url, [SCRIPT_CHECK])
  t.equal(redis.available, false, 'PING works, the script does not')
  await t.rejects(redis.run((client) => client.get('k')), RedisUnavailable, 'every user falls back')
  t.match(lines, [{ level: 'error', message: /Redis degraded/, details: { reason: /^a script: NOPERM .*'eval'/, hint: /ACL SETUSER/ } }])
  t.notMatch(JSON.stringify(lines), 'limited-password-123')
  // Counted, not slept: the probes run the check (the script) every time.
  const sent = redisCommands(t, redis.client)
  await waitFor(() => sent.filter((name) => name === 'eval').length >= 5, 'five probes')
  t.equal(lines.length, 1, 'five probes later: not found back, nothing more said')
  t.same(changes, [true])

  await admin.call('ACL', 'SETUSER', 'limited', '+eval')
  await waitFor(() => redis.available, 'the probe to find the script allowed')
  t.same(changes, [true, false])
  t.match(lines[1], { level: 'warn', message: /Redis recovered/ })
  t.equal(await redis.run((client) => client.eval('return 7', 0)), 7)
})

t.test('a reply saying Redis cannot serve us opens the breaker when a command gets it, once for every user', async (t) => {
  if (skipWithoutRedis(t)) return
  const { admin, url } = await redisWithoutScripts(t)
  await admin.call('ACL', 'SETUSER', 'limited', '+eval')
  const { redis, lines, changes } = await connect(t, url, [SCRIPT_CHECK])
  t.equal(redis.available, true)
  await admin.call('ACL', 'SETUSER', 'limited', '-eval')
  await t.rejects(redis.run((client) => client.eval('return 1', 0)), RedisUnavailable, 'NOPERM: the caller falls back')
  await t.rejects(redis.run((client) => client.get('k')), RedisUnavailable, 'so does every other user, at once')
  t.match(lines, [{ level: 'error', message: /Redis degraded/, details: { reason: /^NOPERM/ } }])
  t.same(changes, [true])
})

t.test('a Redis without scripting (EVAL renamed away, as some managed offerings do): the reason without the echoed arguments', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, ['--rename-command', 'EVAL', ''])
  const { redis, lines } = await connect(t, server.url, [SCRIPT_CHECK])
  t.equal(redis.available, false)
  t.match(lines, [{ details: { reason: 'a script: ERR unknown command \'eval\'', hint: /does not offer a command the gateway runs/ } }])
})

t.test('the gateway\'s own checks cover the mint lock: a Redis user that may not SET is degraded with the lock named', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  // Scripts allowed (the rate limiter's check passes), SET refused: only the lock's own check can tell.
  await admin.call('ACL', 'SETUSER', 'noset', 'on', '>noset-password-123', '~*', '+@all', '-set')
  const { redis, lines } = await connect(t, server.url.replace('redis://', 'redis://noset:noset-password-123@'), gatewayRedisChecks)
  t.equal(redis.available, false)
  t.match(lines, [{ level: 'error', message: /Redis degraded/, details: { cause: 'permission', reason: /^the token store and mint lock .*can't run this command/ } }])
  await admin.call('ACL', 'SETUSER', 'noset', '+set')
  await waitFor(() => redis.available, 'the probe to find SET allowed')
})
