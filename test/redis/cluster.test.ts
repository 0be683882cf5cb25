import t from 'tap'
import { ConfigError } from '../../src/config/index.js'
import { KeyNames } from '../../src/redis/key-names.js'
import { runEntry } from '../entry.js'
import { SECRET, SERVICE_KEY, buildGateway, gatewayConfig, provision, startOpenIm, waitFor } from '../helper.js'
import { buildApp } from '../../src/http/app.js'
import { skipWithoutRedis, startCluster, startRedis } from '../redis.js'

// The gateway on a Redis Cluster (three primaries, three replicas, cluster-node-timeout 2000), as REDIS_CLUSTER_NODES
// configures it; and a Cluster node behind REDIS_URL, which the gateway refuses rather than half-use.

const mints = (emulator: { callCount (path: string): number }) => emulator.callCount('/auth/get_user_token')
const names = new KeyNames(SECRET)

t.test('on a Cluster: limits exact across replicas, tokens shared, each user\'s keys in one slot, never degraded', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  const emulator = await startOpenIm(t)
  const env = { ...cluster.env, RATE_LIMIT_MAX: '7' }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  t.equal(a.app.redis?.available, true)
  const users = ['ana', 'ben', 'cyd', 'dee', 'eli', 'fia']
  const tokens = new Map<string, string>()
  for (const userID of users) tokens.set(userID, (await provision(a.app, { userID, platformID: 5 }, { 'x-api-key': 'test-service-key-0123456789' })).json().token)
  t.equal(mints(emulator), 6)
  const statuses = [(await provision(b.app, { userID: 'ana', platformID: 5 })).statusCode, (await provision(b.app, { userID: 'ana', platformID: 5 })).statusCode]
  t.same(statuses, [200, 429], 'seven requests per window across both replicas')
  t.equal(mints(emulator), 6, 'the token minted on one replica was reused on the other')

  // Where the keys are: each user's token and lock share a slot; the users spread over the primaries.
  const owners = new Set<number>()
  for (const userID of users) {
    const keys = names.pair({ userID, platformID: 5 })
    const [tokenOwner, lockOwner] = [await cluster.primaryFor(keys.token), await cluster.primaryFor(keys.lock)]
    t.equal(tokenOwner.port, lockOwner.port, `${userID}: token and lock in one slot`)
    t.equal(await tokenOwner.admin().exists(keys.token), 1)
    owners.add(tokenOwner.port)
  }
  t.ok(owners.size >= 2, `spread over ${owners.size} primaries`)
  t.equal(a.logs.records.filter((line) => /Redis degraded/.test(String(line.msg))).length, 0, 'no flapping: never degraded')
})

t.test('a Cluster primary killed: followed to its replica; users holding tokens keep them; at most one mint per user', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  const emulator = await startOpenIm(t)
  const [a, b] = [await buildGateway(t, emulator.url, cluster.env), await buildGateway(t, emulator.url, cluster.env)]
  const users = Array.from({ length: 9 }, (_, i) => `user_${i}`)
  for (const userID of users) await provision(a.app, { userID, platformID: 5 })
  for (const userID of users) await provision(b.app, { userID, platformID: 5 })
  const victim = await cluster.primaryFor(names.pair({ userID: users[0]!, platformID: 5 }).token)
  await victim.stop()
  const answers = []
  for (let round = 0; round < 3; round++) {
    for (const userID of users) answers.push(await provision(round % 2 === 0 ? a.app : b.app, { userID, platformID: 5 }))
  }
  t.same(answers.filter((answer) => answer.statusCode >= 500).map((answer) => answer.json()), [], 'no 5xx while the primary is gone')
  t.equal(mints(emulator), users.length, 'every user kept the token it holds')
  await cluster.healthy({ replicas: false })
  await waitFor(() => a.app.redis?.writable === true && b.app.redis?.writable === true, 'both replicas back on the cluster')
  const late = await provision(a.app, { userID: users[0]!, platformID: 1 })
  t.equal(late.statusCode, 200, 'a new pair of a user whose primary was killed: minted, through the promoted replica')
  const shared = await provision(b.app, { userID: users[0]!, platformID: 1 })
  t.match(shared.json(), { reused: true, token: late.json().token }, `${shared.statusCode} ${shared.body}`)
  t.equal(mints(emulator), users.length + 1)
})

t.test('a Cluster node given as REDIS_URL stops the start, naming REDIS_CLUSTER_NODES', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  const emulator = await startOpenIm(t)
  const node = cluster.nodes[0]!
  await t.rejects(buildApp({ config: gatewayConfig(emulator.url, { REDIS_URL: `redis://${node.address}` }), logger: false }),
    { message: /REDIS_URL points at a Redis Cluster node: list the cluster's nodes in REDIS_CLUSTER_NODES/ })
  // As operators run it (npm run build first): exit 1, the message, no stack trace.
  const started = await runEntry(new URL('../../dist/server.js', import.meta.url).pathname, [], {
    OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`, PORT: '0', REDIS_URL: `redis://${node.address}`
  })
  t.equal(started.code, 1)
  t.match(started.stderr, /^invalid configuration: REDIS_URL points at a Redis Cluster node/)
  t.notMatch(started.stderr, /\n\s+at /, 'no stack trace')
})

t.test('a Cluster node found behind REDIS_URL later (INFO refused at start): said once, degraded for good, no flapping', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  for (const node of cluster.nodes) await node.admin().call('ACL', 'SETUSER', 'gateway', 'on', '>gateway-pw-123', '~*', '+@all', '-info')
  const emulator = await startOpenIm(t)
  // The user's keys live on another node than the one REDIS_URL names: MOVED.
  const node = cluster.nodes.find((candidate) => candidate.running)!
  let userID = 'moved_0'
  for (let i = 0; (await cluster.primaryFor(names.pair({ userID, platformID: 5 }).token)).port === node.port; i++) userID = `moved_${i}`
  const { app, logs } = await buildGateway(t, emulator.url, { REDIS_URL: `redis://gateway:gateway-pw-123@${node.address}` })
  const first = await provision(app, { userID, platformID: 5 })
  t.equal(first.statusCode, 201, 'served per replica')
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.equal(app.redis?.available, false)
  t.match(logs.records.filter((line) => /^Redis (degraded|recovered)/.test(String(line.msg))),
    [{ cause: 'topology', reason: /MOVED/, hint: /REDIS_CLUSTER_NODES/ }], 'said once; the probe does not find it back and lose it again')
})

t.test('REDIS_CLUSTER_NODES naming a Redis without cluster support stops the start, naming REDIS_URL', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const emulator = await startOpenIm(t)
  const error = await buildApp({ config: gatewayConfig(emulator.url, { REDIS_CLUSTER_NODES: server.node.address }), logger: false }).catch((thrown) => thrown)
  t.ok(error instanceof ConfigError)
  t.match(error.message, /REDIS_CLUSTER_NODES lists a Redis that is no cluster node: use REDIS_URL/)
})
