import t from 'tap'
import { buildGateway, provision, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startCluster, startDelayingProxy, startRedis, startSentinel } from '../redis.js'
import { KeyNames } from '../../src/redis/key-names.js'
import { SECRET, SERVICE_KEY } from '../helper.js'

// Two replicas (two gateway apps, each with its own Redis connection) receiving the same new user at once, on each
// topology, and with a lock request whose reply arrives after the command timeout; then Redis paused under them.

type Env = Record<string, string>
const COMMAND_TIMEOUT_MS = 2000
const topologies: Array<[string, (t: Parameters<typeof startRedis>[0]) => Promise<Env>]> = [
  ['standalone', async (t) => ({ REDIS_URL: (await startRedis(t)).url })],
  ['Sentinel', async (t) => (await startSentinel(t)).env],
  ['Cluster', async (t) => (await startCluster(t)).env]
]

for (const [name, start] of topologies) {
  t.test(`${name}: 50 concurrent first provisions of one user across two replicas make 1 registration and 1 mint`, async (t) => {
    if (skipWithoutRedis(t)) return
    // A command timeout no busy machine reaches: a breaker opened by a slow command lets a replica mint once under its
    // own lock (docs/operators/replicas.md); the ambiguous test below holds a reply past a timeout on purpose.
    const env = { ...await start(t), RATE_LIMIT_MAX: '1000', REDIS_COMMAND_TIMEOUT_MS: '10000' }
    // Some latency, so that the two replicas' flows overlap.
    const emulator = await startOpenIm(t, { latencyMs: 20 })
    const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => provision(i % 2 === 0 ? a.app : b.app, { userID: 'zane', platformID: 5 })))
    t.same([...new Set(answers.map((answer) => answer.statusCode))].sort(), [200, 201], 'every answer a success (201 where the registering flow answered)')
    t.equal(new Set(answers.map((answer) => answer.json().token)).size, 1, 'one token for all')
    t.equal(emulator.callCount('/user/user_register'), 1)
    t.equal(emulator.callCount('/auth/get_user_token'), 1)
  })
}

t.test('a lock request answered after its timeout (ambiguous SET NX), 20 trials: never two mints, never a 504', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const emulator = await startOpenIm(t, { latencyMs: 20 })
  const env = { RATE_LIMIT_MAX: '100000', REQUEST_DEADLINE_MS: '20000', OPENIM_TIMEOUT_MS: '10000' }
  // Replica A's lock request is held past its command timeout on purpose; no other command may time out, on either
  // replica, however busy the machine (a breaker opened by a slow command lets a replica mint once under its own
  // lock: docs/operators/replicas.md), so A's timeout is long, its hold longer, and B's timeout out of reach.
  const a = await buildGateway(t, emulator.url, { ...env, REDIS_URL: proxy.url, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) })
  const b = await buildGateway(t, emulator.url, { ...env, REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '10000' })
  const names = new KeyNames(SECRET)
  const statuses: number[] = []
  for (let trial = 0; trial < 20; trial++) {
    const pair = { userID: `amb_${trial}`, platformID: 5 }
    emulator.resetCounts()
    await waitFor(() => a.app.redis?.available === true, 'replica A back on Redis')
    // Replica A's first lock request for the pair: its reply is held past A's command timeout.
    const held = proxy.holdReplyTo(names.pair(pair).lock, COMMAND_TIMEOUT_MS + 600)
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => provision(i % 2 === 0 ? a.app : b.app, pair)))
    await held
    statuses.push(...answers.map((answer) => answer.statusCode))
    t.equal(emulator.callCount('/auth/get_user_token'), 1, `trial ${trial}: one mint`)
    t.equal(new Set(answers.map((answer) => answer.json().token)).size, 1, `trial ${trial}: one token`)
  }
  t.same(statuses.filter((status) => status >= 300), [], 'no answer but a success')
  t.ok(Number(/^openim_gateway_mint_lock_ambiguous_total (\d+)/m.exec(await a.app.metrics.registry.metrics())?.[1]) >= 20, 'each trial\'s request counted as ambiguous')
})

t.test('a lock request left unanswered by a flow whose caller left keeps the next flow of its replica from minting while Redis cannot say who holds the lock', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const emulator = await startOpenIm(t, { latencyMs: 20 })
  const { app } = await buildGateway(t, emulator.url, { RATE_LIMIT_MAX: '100000', REDIS_URL: proxy.url })
  const redis = app.redis!
  const pair = { userID: 'amb_next_flow', platformID: 5 }
  await provision(app, { userID: pair.userID, platformID: 1 })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const send = (signal: AbortSignal) => fetch(`${base}/provision`, {
    method: 'POST', headers: { 'x-api-key': SERVICE_KEY, 'content-type': 'application/json' }, body: JSON.stringify(pair), signal
  }).then(() => 'answered', () => 'left')
  const waits = async () => Number(/^openim_gateway_mint_lock_waits_total (\d+)/m.exec(await app.metrics.registry.metrics())?.[1] ?? 0)
  emulator.resetCounts()
  // The lock request's reply, and every reply after it on that connection (the breaker's probes too), held long
  // past the command timeout: Redis took the lock for the first flow, which cannot know it.
  const held = proxy.holdReplyTo(new KeyNames(SECRET).pair(pair).lock, 8000)
  const firstCaller = new AbortController()
  const first = send(firstCaller.signal)
  await waitFor(() => !redis.available, 'the lock request to time out and the breaker to open')
  firstCaller.abort()
  t.equal(await first, 'left', 'the first caller leaves, and its flow ends with the lock request unanswered')
  // A second flow, alone: with Redis unavailable it would take this process's lock and mint, while Redis may hold the
  // first flow's lock and another replica waits for that lock to be released or run out before minting too.
  const waitsBefore = await waits()
  const secondCaller = new AbortController()
  const second = send(secondCaller.signal)
  await waitFor(async () => emulator.callCount('/auth/get_user_token') > 0 || await waits() > waitsBefore, 'the second flow to mint or wait')
  secondCaller.abort()
  await second
  t.equal(redis.available, false, 'Redis still unavailable to this replica')
  t.equal(emulator.callCount('/auth/get_user_token'), 0, 'the second flow waited instead of minting')
  await held
  await waitFor(() => redis.available, 'Redis to serve again')
  const after = await provision(app, pair)
  t.equal(after.statusCode, 200, 'once Redis answers, the first flow\'s lock is released and the pair is minted')
  t.equal(emulator.callCount('/auth/get_user_token'), 1, 'one mint in all')
})

for (const mode of ['ALL', 'WRITE'] as const) {
  t.test(`CLIENT PAUSE ${mode}: users holding tokens keep them on both replicas; a new user is minted at most once per replica`, async (t) => {
    if (skipWithoutRedis(t)) return
    const server = await startRedis(t)
    const emulator = await startOpenIm(t)
    const env = { REDIS_URL: server.url, RATE_LIMIT_MAX: '100000' }
    const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
    const users = Array.from({ length: 10 }, (_, i) => `paused_${i}`)
    const tokens = new Map<string, string>()
    for (const userID of users) tokens.set(userID, (await provision(a.app, { userID, platformID: 5 })).json().token)
    // Round-robin before the pause, as a load balancer spreads them: each replica has handed out each token once.
    for (const userID of users) await provision(b.app, { userID, platformID: 5 })
    const before = emulator.callCount('/auth/get_user_token')
    await server.node.admin().call('CLIENT', 'PAUSE', '3000', mode)
    const answers = []
    for (let round = 0; round < 4; round++) {
      for (const userID of users) answers.push([userID, (await provision(round % 2 === 0 ? a.app : b.app, { userID, platformID: 5 })).json()] as const)
    }
    t.same(answers.filter(([userID, answer]) => answer.token !== tokens.get(userID)), [], 'every user kept the token it holds')
    t.equal(emulator.callCount('/auth/get_user_token'), before, 'not one mint')
    for (let i = 0; i < 4; i++) await provision(i % 2 === 0 ? a.app : b.app, { userID: 'newcomer', platformID: 5 })
    t.ok(emulator.callCount('/auth/get_user_token') - before <= 2, 'a user first seen during the pause: at most one mint per replica')
  })
}
