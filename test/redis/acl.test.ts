import { readFileSync } from 'node:fs'
import t from 'tap'
import { check, doctor, startDoctorOpenIm } from '../doctor/helper.js'
import { buildGateway, provision, startOpenIm } from '../helper.js'
import { skipWithoutRedis, startCluster, startRedis, type RedisNode } from '../redis.js'

// The ACL user the operators' guide tells you to create, copied from the guide itself: it must run everything the
// gateway needs on each topology, with a database of its own; a user missing one of its permissions is reported,
// by its cause, instead of working half (database 0 instead of the one configured) or not at all (a Cluster never
// ready, with no reason given).

const guide = readFileSync(new URL('../../docs/operators/replicas.md', import.meta.url), 'utf8')
const documented = /^ {2}ACL SETUSER gateway on >password (.+)$/m.exec(guide)?.[1]?.split(' ')
if (documented === undefined) throw new Error('docs/operators/replicas.md shows no ACL SETUSER line')
const PASSWORD = 'gateway-acl-pw-123'
const rules = (without?: string) => ['on', `>${PASSWORD}`, ...documented.filter((rule) => rule !== without)]
const setUser = async (nodes: RedisNode[], without?: string) => {
  for (const node of nodes) await node.admin().call('ACL', 'SETUSER', 'gateway', 'reset', ...rules(without))
}
const withUser = (url: string) => url.replace('redis://', `redis://gateway:${PASSWORD}@`)

t.test('the guide\'s ACL user runs the gateway with a database of its own, and on a Cluster', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startOpenIm(t)
  const server = await startRedis(t)
  await setUser([server.node])
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: `${withUser(server.url)}/3` })
  t.equal(app.redis?.readiness, 'ok')
  t.equal((await provision(app, { userID: 'acl_ada', platformID: 5 })).statusCode, 201)
  const admin = server.node.admin()
  t.equal((await admin.keys('openim-gateway:*')).length, 0, 'nothing in database 0')
  await admin.select(3)
  t.ok((await admin.keys('openim-gateway:{*}:token:*')).length >= 1, 'the token is in database 3')

  const cluster = await startCluster(t)
  await setUser(cluster.nodes)
  const onCluster = await buildGateway(t, emulator.url, { ...cluster.env, REDIS_USERNAME: 'gateway', REDIS_PASSWORD: PASSWORD })
  t.equal(onCluster.app.redis?.readiness, 'ok')
  t.equal((await provision(onCluster.app, { userID: 'acl_bo', platformID: 5 })).statusCode, 201)
  t.equal(onCluster.logs.records.filter((line) => /Redis degraded/.test(String(line.msg))).length, 0)
})

t.test('a user that may not SELECT the configured database: degraded, said so, and nothing written to database 0', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  await setUser([server.node], '+select')
  const { app, logs } = await buildGateway(t, (await startOpenIm(t)).url, { REDIS_URL: `${withUser(server.url)}/3` })
  t.equal(app.redis?.available, false)
  t.match(logs.records.find((line) => /Redis degraded/.test(String(line.msg))), {
    cause: 'permission', reason: /SELECT of the database REDIS_DB or REDIS_URL names: NOPERM .*'select'/, hint: /\+select/
  })
  t.equal((await provision(app, { userID: 'acl_cy', platformID: 5 })).statusCode, 201, 'served from this replica meanwhile')
  t.same(await server.node.admin().keys('openim-gateway:*'), [], 'database 0 untouched')
  const emulator = await startDoctorOpenIm(t)
  const report = check(await doctor(emulator.url, { REDIS_URL: `${withUser(server.url)}/3` }), 'gateway.redis')
  t.match(report, { status: 'fail', summary: /refuses SELECT of the database REDIS_DB or REDIS_URL names: NOPERM/ })
})

t.test('a Cluster user without CLUSTER INFO (ioredis\'s ready check): the log and the doctor say so', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startDoctorOpenIm(t)
  const cluster = await startCluster(t)
  await setUser(cluster.nodes, '+cluster|info')
  const env = { ...cluster.env, REDIS_USERNAME: 'gateway', REDIS_PASSWORD: PASSWORD }
  const { app, logs } = await buildGateway(t, emulator.url, env)
  t.equal(app.redis?.available, false)
  t.match(logs.records.find((line) => /Redis degraded/.test(String(line.msg))), {
    cause: 'permission', reason: /the cluster's ready check \(CLUSTER INFO\): NOPERM .*'cluster\|info'/, hint: /\+cluster\|info/
  })
  t.match(check(await doctor(emulator.url, env), 'gateway.redis'), {
    status: 'fail', facts: { cause: 'permission' }, summary: /CLUSTER INFO.*NOPERM/, hint: /\+cluster\|info/
  })
})

t.test('a database this Redis does not have: degraded, naming REDIS_DB, not database 0 instead', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const { app, logs } = await buildGateway(t, (await startOpenIm(t)).url, { REDIS_URL: server.url, REDIS_DB: '99' })
  t.equal(app.redis?.available, false)
  t.match(logs.records.find((line) => /Redis degraded/.test(String(line.msg))), {
    cause: 'unsupported', reason: /ERR DB index is out of range/, hint: /^REDIS_DB \(or REDIS_URL's \/<db>\) names a database this Redis does not have/
  })
  t.equal((await provision(app, { userID: 'acl_dora', platformID: 5 })).statusCode, 201)
  t.same(await server.node.admin().keys('openim-gateway:*'), [], 'database 0 untouched')
})
