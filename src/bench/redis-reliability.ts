import { fork, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, fetch } from 'undici'
import { KeyNames } from '../redis/key-names.js'
import { startDelayingProxy } from './delaying-proxy.js'
import {
  apiKey, ask, children, dist, eachLine, freePort, gatewayEnv, secret, startEmulator, startFlags, untilHealthy
} from './processes.js'
import { startRedisCluster, startSentinelSet, startStandalone, type Servers } from './redis-servers.js'

// The timed Redis scenarios of `npm run bench:reliability` (BENCH_SCENARIOS=sentinel,pause,cluster,ambiguous,
// redis-memory,rollout), each against real redis-server processes and gateway processes (`node dist/server.js`)
// in front of one OpenIM emulator process. They print what the tests cannot assert without a clock: seconds until
// every replica is back on Redis, mints per user through a failover, shares of answers.

const agent = new Agent({ connections: 512, headersTimeout: 60_000, bodyTimeout: 60_000 })
const servers: Servers[] = []
const names = new KeyNames(secret)

interface Replica {
  url: string
  child: ChildProcess
  /** When (Date.now()) the replica logged its Redis state changing: 'degraded' or 'recovered'. */
  redisStates: Array<{ at: number, state: 'degraded' | 'recovered' }>
}

async function startReplica (openimUrl: string, env: Record<string, string>,
  entry = process.env.BENCH_GATEWAY ?? `${dist}server.js`): Promise<Replica> {
  const port = await freePort()
  const child = fork(entry, [], {
    execArgv: startFlags(),
    env: gatewayEnv(openimUrl, port, { LOG_LEVEL: 'warn', ...env }),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc']
  })
  children.push(child)
  // The replica's own word for when it left Redis and came back (its log lines' times, to the millisecond).
  const redisStates: Replica['redisStates'] = []
  eachLine(child, (line) => {
    const state = /"msg":"Redis (degraded|recovered)/.exec(line)?.[1] as 'degraded' | 'recovered' | undefined
    if (state !== undefined) redisStates.push({ at: (JSON.parse(line) as { time: number }).time, state })
    if (process.env.BENCH_DEBUG !== undefined) console.log(line)
  })
  const url = `http://127.0.0.1:${port}`
  await untilHealthy(url)
  return { url, child, redisStates }
}

/** How long after `since` (Date.now()) the replica last came back on Redis, or undefined if it never left it. */
function backOnRedisAfter (replica: Replica, since: number): number | undefined {
  const recovered = replica.redisStates.filter(({ at, state }) => state === 'recovered' && at >= since - 60_000).at(-1)
  return recovered === undefined ? undefined : Math.max(0, recovered.at - since)
}

function stopAll (replicas: Replica[]) {
  for (const replica of replicas) replica.child.kill('SIGKILL')
}

interface Answer { status: number, retryAfter: boolean, code?: string, token?: string, at: number }

async function provision (url: string, userID: string): Promise<Answer> {
  try {
    const response = await fetch(`${url}/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ userID, platformID: 5 }),
      dispatcher: agent,
      signal: AbortSignal.timeout(30_000)
    })
    const body = await response.json() as { token?: string, code?: string }
    const retryAfter = response.headers.has('retry-after')
    return { status: response.status, retryAfter, code: body.code, token: body.token, at: performance.now() }
  } catch {
    return { status: 0, retryAfter: false, at: performance.now() }
  }
}

/** `workers` clients provisioning `users` round-robin over `replicas` (each user meets every replica in turn) until `until`. */
async function load (replicas: Replica[], users: string[], workers: number, until: number, answers: Answer[]) {
  let next = 0
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < until) {
      const i = next++
      const userID = users[i % users.length]!
      answers.push(await provision(replicas[(i + Math.floor(i / users.length)) % replicas.length]!.url, userID))
    }
  }))
}

/** Every replica serves every user once: each then holds a copy of each user's token. */
async function warm (replicas: Replica[], users: string[]) {
  for (const replica of replicas) {
    await Promise.all(users.map(async (userID) => {
      // A busy machine sheds some with 503 OVERLOADED: asked again until served.
      for (let attempt = 0; attempt < 50 && (await provision(replica.url, userID)).status >= 300; attempt++) await sleep(200)
    }))
  }
}

const mintsOf = async (emulator: ChildProcess) => (await ask<{ mints: Record<string, number> }>(emulator, { type: 'mints' })).mints

async function degraded (replica: Replica): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${replica.url}/metrics`, { dispatcher: agent })).text()
    return Number(/^openim_gateway_redis_degraded (\d+)$/m.exec(text)?.[1])
  } catch {
    return undefined
  }
}

const usersNamed = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}_${i}`)
const fmt = (ms: number | undefined) => ms === undefined ? '—' : (ms / 1000).toFixed(1)

function statusCounts (answers: Answer[]): string {
  const counts = new Map<string, number>()
  for (const { status, retryAfter, code } of answers) {
    const key = status === 0 ? 'no answer' : status >= 400 ? `${status} ${code ?? ''}${retryAfter ? '+Retry-After' : ''}` : String(status)
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].sort().map(([status, count]) => `${count}× ${status}`).join(', ')
}

const bad5xx = (answers: Answer[]) =>
  answers.filter((answer) => answer.status === 0 || (answer.status >= 500 && !(answer.status === 503 && answer.retryAfter))).length

function mintFigures (before: Record<string, number>, after: Record<string, number>, users: string[]) {
  const during = users.map((userID) => (after[userID] ?? 0) - (before[userID] ?? 0))
  return { total: during.reduce((sum, count) => sum + count, 0), most: Math.max(...users.map((userID) => after[userID] ?? 0)), during }
}

/** Sentinel primary killed under steady load on 3 replicas, after every replica has served every user once. */
export async function sentinelFailover () {
  const set = await startSentinelSet({ downAfterMs: 1000 })
  servers.push(set)
  const emulator = await startEmulator(2)
  const replicas = await Promise.all([0, 1, 2].map(() => startReplica(emulator.url, set.env)))
  const users = usersNamed('sentinel', 100)
  await warm(replicas, users)
  const before = await mintsOf(emulator.child)
  const answers: Answer[] = []
  const start = performance.now()
  const loading = load(replicas, users, 12, start + 25_000, answers)
  await sleep(5000)
  const killedAt = Date.now()
  await set.primary.stop()
  let promotedAt: number | undefined
  while (promotedAt === undefined && performance.now() < start + 25_000) {
    if (await set.primaryPort().catch(() => 0) === set.replica.port) promotedAt = Date.now()
    else await sleep(50)
  }
  await loading
  const mints = mintFigures(before, await mintsOf(emulator.child), users)
  const back = replicas.map((replica) => promotedAt === undefined ? undefined : backOnRedisAfter(replica, promotedAt))
  const promotion = fmt(promotedAt === undefined ? undefined : promotedAt - killedAt)
  console.log(`| ${answers.length} | ${statusCounts(answers)} | ${bad5xx(answers)} | ${promotion} | ` +
    `${back.map(fmt).join(' / ')} | ${mints.most} | ${mints.total} |`)
  stopAll(replicas)
  emulator.child.kill('SIGKILL')
}

/** A 4 s CLIENT PAUSE … ALL under round-robin load on 2 replicas, every user holding a live token. */
export async function clientPause () {
  const redis = await startStandalone()
  servers.push(redis)
  const emulator = await startEmulator(2)
  const replicas = await Promise.all([0, 1].map(() => startReplica(emulator.url, { REDIS_URL: redis.url })))
  const users = usersNamed('pause', 100)
  await warm(replicas, users)
  const before = await mintsOf(emulator.child)
  const answers: Answer[] = []
  const start = performance.now()
  const loading = load(replicas, users, 8, start + 10_000, answers)
  await sleep(3000)
  await redis.node.admin().call('CLIENT', 'PAUSE', '4000', 'ALL')
  await loading
  const mints = mintFigures(before, await mintsOf(emulator.child), users)
  console.log(`| ${answers.length} | ${statusCounts(answers)} | ${mints.total} | ${(100 * mints.total / answers.length).toFixed(2)} % |`)
  stopAll(replicas)
  emulator.child.kill('SIGKILL')
}

/** Cluster: limits across 2 replicas, 30 s of load with the degraded gauge watched, then a primary killed under load. */
export async function clusterUnderLoad () {
  const cluster = await startRedisCluster({ nodeTimeoutMs: 2000 })
  servers.push(cluster)
  const emulator = await startEmulator(2)
  const limited = await Promise.all([0, 1].map(() => startReplica(emulator.url, { ...cluster.env, RATE_LIMIT_MAX: '50' })))
  const limitAnswers: Answer[] = []
  for (let i = 0; i < 120; i++) limitAnswers.push(await provision(limited[i % 2]!.url, 'limit_user'))
  const allowed = limitAnswers.filter((answer) => answer.status < 300).length
  stopAll(limited)

  const replicas = await Promise.all([0, 1].map(() => startReplica(emulator.url, cluster.env)))
  const users = usersNamed('cluster', 100)
  const before = await mintsOf(emulator.child)
  const answers: Answer[] = []
  let start = performance.now()
  let worstGauge = 0
  const sampling = (async () => {
    while (performance.now() < start + 30_000) {
      for (const replica of replicas) worstGauge = Math.max(worstGauge, await degraded(replica) ?? 0)
      await sleep(1000)
    }
  })()
  await load(replicas, users, 8, start + 30_000, answers)
  await sampling
  const afterLoad = await mintsOf(emulator.child)
  const loadMints = mintFigures(before, afterLoad, users)
  console.log(`| 30 s of load | ${answers.length} | ${statusCounts(answers)} | limit 50: ${allowed} of 120 allowed | ` +
    `degraded gauge max ${worstGauge} | ${loadMints.total} mints for ${users.length} users (most per user ${loadMints.most}) |`)

  const killAnswers: Answer[] = []
  start = performance.now()
  const loading = load(replicas, users, 8, start + 20_000, killAnswers)
  await sleep(3000)
  const victim = await cluster.primaryFor(names.pair({ userID: users[0]!, platformID: 5 }).token)
  const killedAt = Date.now()
  await victim.stop()
  await loading
  const killMints = mintFigures(afterLoad, await mintsOf(emulator.child), users)
  const back = replicas.map((replica) => fmt(backOnRedisAfter(replica, killedAt))).join(' / ')
  console.log(`| primary killed under load | ${killAnswers.length} | ${statusCounts(killAnswers)} | 5xx (not 503+Retry-After): ` +
    `${bad5xx(killAnswers)} | back on Redis after the kill: ${back} s | ` +
    `${killMints.total} mints, most per user during the kill ${Math.max(...killMints.during)} |`)
  stopAll(replicas)
  emulator.child.kill('SIGKILL')
}

/** 20 trials of a lock request whose reply is held 700 ms (past the 500 ms command timeout), 10 provisions each over 2 replicas. */
export async function ambiguousLock () {
  const redis = await startStandalone()
  servers.push(redis)
  const proxy = await startDelayingProxy(redis.node)
  const emulator = await startEmulator(20)
  const viaProxy = await startReplica(emulator.url, { REDIS_URL: proxy.url })
  const direct = await startReplica(emulator.url, { REDIS_URL: redis.url })
  let doubleMints = 0
  const answers: Answer[] = []
  for (let trial = 0; trial < 20; trial++) {
    const userID = `ambiguous_${trial}`
    // The gateway with its breaker open after the previous trial answers from memory: wait until it is back.
    while (await degraded(viaProxy) !== 0) await sleep(100)
    const held = proxy.holdReplyTo(names.pair({ userID, platformID: 5 }).lock, 700)
    answers.push(...await Promise.all(Array.from({ length: 10 }, (_, i) => provision((i % 2 === 0 ? viaProxy : direct).url, userID))))
    await held
    if (((await mintsOf(emulator.child))[userID] ?? 0) > 1) doubleMints++
  }
  const timeouts = answers.filter((answer) => answer.status === 504).length
  console.log(`| 20 | ${answers.length} | ${statusCounts(answers)} | ${doubleMints} | ${timeouts} |`)
  await proxy.close()
  stopAll([viaProxy, direct])
  emulator.child.kill('SIGKILL')
}

/** A replica with Redis through `count` provisions of distinct users: its copy of the tokens fills to TOKEN_CACHE_MAX_ENTRIES. */
export async function residentMemory (count: number) {
  const redis = await startStandalone()
  servers.push(redis)
  const emulator = await startEmulator(2)
  const [replica] = [await startReplica(emulator.url, { REDIS_URL: redis.url, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })]
  const rss = async () => {
    const text = await (await fetch(`${replica!.url}/metrics`, { dispatcher: agent })).text()
    const read = (name: string) => Number(new RegExp(`^openim_gateway_${name} (\\S+)$`, 'm').exec(text)?.[1]) / 1024 / 1024
    return `${read('process_resident_memory_bytes').toFixed(0)} MB (${read('nodejs_heap_size_used_bytes').toFixed(0)})`
  }
  const samples = [`0: ${await rss()}`]
  let next = 0
  let failed = 0
  for (let tenth = 1; tenth <= 10; tenth++) {
    const until = Math.round(count * tenth / 10)
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < until) if ((await provision(replica!.url, `rss_${next++}`)).status >= 300) failed++
    }))
    // The metrics render is reused for a second: wait for a fresh one.
    await sleep(1100)
    samples.push(`${until}: ${await rss()}`)
  }
  console.log(`| ${count} | ${failed} | ${samples.join(', ')} |`)
  stopAll([replica!])
  emulator.child.kill('SIGKILL')
}

/** Replicas of the previous release (BENCH_OLD_GATEWAY: its dist/server.js) and of this one on one Redis. */
export async function rollout (oldEntry: string) {
  const redis = await startStandalone()
  servers.push(redis)
  const emulator = await startEmulator(20)
  const replicas = [
    await startReplica(emulator.url, { REDIS_URL: redis.url }, oldEntry),
    await startReplica(emulator.url, { REDIS_URL: redis.url }, oldEntry),
    await startReplica(emulator.url, { REDIS_URL: redis.url })
  ]
  const users = usersNamed('rollout', 30)
  const answers: Answer[] = []
  for (const userID of users) {
    answers.push(...await Promise.all(Array.from({ length: 12 }, (_, i) => provision(replicas[i % 3]!.url, userID))))
  }
  for (const replica of replicas) for (const userID of users) answers.push(await provision(replica.url, userID))
  const mints = await mintsOf(emulator.child)
  const most = Math.max(...users.map((userID) => mints[userID] ?? 0))
  const twice = users.filter((userID) => (mints[userID] ?? 0) > 1).length
  console.log(`| 2 previous + 1 new | ${users.length} | ${answers.length} | ${statusCounts(answers)} | ${most} | ${twice} |`)
  stopAll(replicas)
  emulator.child.kill('SIGKILL')
}

export async function closeServers () {
  await agent.close()
  await Promise.all(servers.map((server) => server.close()))
}
