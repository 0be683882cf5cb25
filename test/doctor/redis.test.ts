import { Redis } from 'ioredis'
import t from 'tap'
import { renderText } from '../../src/doctor/report.js'
import { TLS_FILES, skipWithoutRedis, startCluster, startRedis, startSentinel } from '../redis.js'
import { check, doctor, startDoctorOpenIm } from './helper.js'

const PASSWORD = 'limited-password-123'

t.test('a Redis user that may not run the rate limiter\'s script fails the check, naming the refusal and the fix', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const server = await startRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.call('ACL', 'SETUSER', 'limited', 'on', `>${PASSWORD}`, '~*', '+@all', '-eval', '-evalsha')
  const url = server.url.replace('redis://', `redis://limited:${PASSWORD}@`)
  const report = await doctor(emulator.url, { REDIS_URL: url })
  const refused = check(report, 'gateway.redis')
  t.equal(refused.status, 'fail', 'PING alone would have passed')
  t.match(refused.summary, /answers PING but refuses the rate limiter's script: NOPERM .*'eval'/)
  t.match(refused.hint, /ACL SETUSER <user> \+get \+set \+del \+eval \+incr \+pexpire \+pttl \+type \+ping \+info \+select \+cluster\|slots \+cluster\|info ~openim-gateway:\*/)
  t.match(refused.hint, /every replica keeps its own rate limits, tokens and locks/)
  t.equal(report.ok, false)
  t.notMatch(JSON.stringify(report) + renderText(report, false), PASSWORD)

  await admin.call('ACL', 'SETUSER', 'limited', '+eval', '-info')
  const allowed = check(await doctor(emulator.url, { REDIS_URL: url }), 'gateway.redis')
  t.equal(allowed.status, 'pass', 'INFO refused is no failure: the gateway never runs it')
  t.match(allowed.summary, /answers \(Redis \?, \d+ ms to connect and PING\) and runs SELECT of the database REDIS_DB or REDIS_URL names, the rate limiter's script, the token store and mint lock \(their scripts\)$/)
  const ttl = await admin.pttl('openim-gateway:{check}:rate')
  t.ok(ttl === -2 || (ttl > 0 && ttl <= 1000), `on a key that expires within a second (PTTL ${ttl})`)
})

t.test('a Redis without EVAL (renamed away, as some managed offerings do) fails the check', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const server = await startRedis(t, ['--rename-command', 'EVAL', ''])
  const refused = check(await doctor(emulator.url, { REDIS_URL: server.url }), 'gateway.redis')
  t.equal(refused.status, 'fail')
  t.match(refused.summary, /refuses the rate limiter's script: ERR unknown command 'eval'$/)
  t.match(refused.hint, /does not offer a command the gateway runs/)
})

t.test('Sentinel and Cluster: each passes naming where the data is served; a Cluster node behind REDIS_URL fails, naming the fix', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const set = await startSentinel(t)
  const sentinel = check(await doctor(emulator.url, set.env), 'gateway.redis')
  t.equal(sentinel.status, 'pass')
  t.match(sentinel.summary, new RegExp(`^the primary "${set.masterName}" of sentinels .* answers \\(Redis [\\d.]+, primary at 127\\.0\\.0\\.1:${set.primary.port},`))
  const unknown = check(await doctor(emulator.url, { ...set.env, REDIS_SENTINEL_MASTER: 'nobody' }), 'gateway.redis')
  t.match(unknown, { status: 'fail', summary: /: topology: .*No such master/, hint: /REDIS_SENTINEL_MASTER/ })

  const cluster = await startCluster(t)
  const healthy = check(await doctor(emulator.url, cluster.env), 'gateway.redis')
  t.equal(healthy.status, 'pass')
  t.match(healthy.summary, /^the cluster of .* answers \(Redis [\d.]+, 3 primaries serving every slot, /)
  const node = check(await doctor(emulator.url, { REDIS_URL: `redis://${cluster.nodes[0]!.address}` }), 'gateway.redis')
  t.match(node, { status: 'fail', summary: /is a Redis Cluster node$/, hint: /REDIS_CLUSTER_NODES/, facts: { cause: 'topology' } })
  const plain = await startRedis(t)
  const notCluster = check(await doctor(emulator.url, { REDIS_CLUSTER_NODES: plain.node.address }), 'gateway.redis')
  t.match(notCluster, { status: 'fail', hint: /REDIS_CLUSTER_NODES lists a Redis that is no cluster node: use REDIS_URL/ })
})

t.test('a TLS failure is named as such; with the CA file the check passes', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const server = await startRedis(t, [], { cert: TLS_FILES.server, key: TLS_FILES['server-key'], ca: TLS_FILES.ca })
  t.match(check(await doctor(emulator.url, { REDIS_URL: server.url }), 'gateway.redis'), { status: 'fail', summary: /: tls: /, hint: /REDIS_TLS_CA_FILE/ })
  t.equal(check(await doctor(emulator.url, { REDIS_URL: server.url, REDIS_TLS_CA_FILE: TLS_FILES.ca }), 'gateway.redis').status, 'pass')
})
