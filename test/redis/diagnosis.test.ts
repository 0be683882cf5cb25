import { readFileSync } from 'node:fs'
import t from 'tap'
import { freeLoopbackPort } from '../../src/bench/redis-servers.js'
import { check, doctor, startDoctorOpenIm } from '../doctor/helper.js'
import { runEntry } from '../entry.js'
import { SECRET, buildGateway, startOpenIm } from '../helper.js'
import { TLS_FILES, skipWithoutRedis, startCluster, startSentinel } from '../redis.js'

// What an operator reads when the Redis settings are wrong: a malformed setting stops the start with a message
// naming the variable (never echoing a password, never a stack trace); a connection that fails is named by its
// real cause, for the sentinels and a Cluster too, where ioredis says only "Connection is closed.".

const PASSWORD = 'Sekr3t-redis-pw'
const server = new URL('../../dist/server.js', import.meta.url).pathname

t.test('malformed Redis settings stop the start naming the variable, never echoing the password', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: `redis://:${PASSWORD} x@redis` }, /REDIS_URL/],
    [{ REDIS_URL: `redis://:${PASSWORD}%zz@redis` }, /REDIS_URL's user or password is not percent-encoded right: write % as %25/],
    [{ REDIS_URL: `redis://gateway:${PASSWORD}@[::1` }, /REDIS_URL is not a valid URL .*percent-encode/],
    [{ REDIS_SENTINELS: 'redis-a:26379:extra', REDIS_SENTINEL_MASTER: 'gateway' }, /REDIS_SENTINELS must be .*"redis-a:26379:extra" is not one/],
    [{ REDIS_SENTINELS: '[::1', REDIS_SENTINEL_MASTER: 'gateway' }, /REDIS_SENTINELS must be .*"\[::1" is not one/],
    [{ REDIS_SENTINELS: `redis-a:26379,redis://:${PASSWORD}@redis-b:26379`, REDIS_SENTINEL_MASTER: 'gateway' },
      /REDIS_SENTINELS must be comma-separated host:port entries \(entry 2 is not one; credentials have variables of their own\)/],
    [{ REDIS_CLUSTER_NODES: `gateway:${PASSWORD}@redis-a:6379` }, /REDIS_CLUSTER_NODES must be .*\(entry 1 is not one; credentials/]
  ]
  const key = readFileSync(TLS_FILES['client-key'], 'utf8')
  cases.push([{ REDIS_URL: 'rediss://redis', REDIS_TLS_CERT_FILE: TLS_FILES.client, REDIS_TLS_KEY_FILE: key },
    /REDIS_TLS_KEY_FILE must be the path of a PEM file, not the PEM itself/])
  for (const [env, message] of cases) {
    const started = await runEntry(server, [], { OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: SECRET, AUTH_DISABLED: 'true', PORT: '0', ...env })
    const output = started.stdout + started.stderr
    t.equal(started.code, 1, JSON.stringify(env))
    t.match(started.stderr, /^invalid configuration: /)
    t.match(started.stderr, message)
    t.notMatch(output, /\n\s+at /, 'no stack trace')
    t.notOk(output.includes(PASSWORD.slice(0, 6)), 'no part of the password')
    t.notOk(output.includes(key.split('\n')[1]!), 'no part of a private key')
  }
})

t.test('the doctor names the cause for sentinels and a Cluster: nothing listening, no sentinel there, the sentinels\' password', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const closed = await freeLoopbackPort()
  const sentinelsRefused = check(await doctor(emulator.url, { REDIS_SENTINELS: `127.0.0.1:${closed}`, REDIS_SENTINEL_MASTER: 'gateway' }),
    'gateway.redis')
  t.match(sentinelsRefused, {
    status: 'fail', facts: { cause: 'refused' }, summary: new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${closed}`), hint: /REDIS_SENTINELS/
  })
  const clusterRefused = check(await doctor(emulator.url, { REDIS_CLUSTER_NODES: `127.0.0.1:${closed}` }), 'gateway.redis')
  t.match(clusterRefused, { status: 'fail', facts: { cause: 'refused' }, hint: /REDIS_CLUSTER_NODES/ })

  const set = await startSentinel(t)
  const dataNode = check(await doctor(emulator.url, { ...set.env, REDIS_SENTINELS: set.primary.address }), 'gateway.redis')
  t.match(dataNode, { status: 'fail', facts: { cause: 'topology' }, hint: /REDIS_SENTINELS lists a Redis that is no sentinel/ })
  t.notMatch(dataNode.hint, /EVAL/, 'not a Redis without scripting')
  for (const sentinel of set.sentinels) await sentinel.admin().call('ACL', 'SETUSER', 'default', 'resetpass', `>${PASSWORD}`)
  const wrong = check(await doctor(emulator.url, { ...set.env, REDIS_SENTINEL_PASSWORD: 'not-the-password' }), 'gateway.redis')
  t.match(wrong, { status: 'fail', facts: { cause: 'authentication' }, hint: /the sentinels refused the gateway: REDIS_SENTINEL_USERNAME\/REDIS_SENTINEL_PASSWORD/ })
  t.notMatch(wrong.hint, /REDIS_USERNAME\/REDIS_PASSWORD must hold the data nodes'/, 'the data nodes\' credentials are not the question')
  t.equal(check(await doctor(emulator.url, { ...set.env, REDIS_SENTINEL_PASSWORD: PASSWORD }), 'gateway.redis').status, 'pass')
})

t.test('a gateway whose Cluster nodes refuse connections at start logs "refused", once', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  for (const node of cluster.nodes) await node.stop()
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, cluster.env)
  t.equal(app.redis?.available, false)
  const degraded = logs.records.filter((line) => /Redis degraded/.test(String(line.msg)))
  t.equal(degraded.length, 1)
  t.match(degraded[0], { cause: 'refused', reason: /^not reachable at start .*ECONNREFUSED/, hint: /REDIS_CLUSTER_NODES/ })
})
