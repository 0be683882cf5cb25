import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { Agent, fetch } from 'undici'
import { apiKey, ask, children, dist, eachLine, freePort, gatewayEnv, startEmulator, startFlags, untilHealthy } from './processes.js'
import { redisMemory } from './redis-memory.js'
import {
  ambiguousLock, clientPause, closeServers, clusterUnderLoad, residentMemory, rollout, sentinelFailover
} from './redis-reliability.js'

// `npm run bench:reliability`: the overload scenarios of docs/figures/reliability.md, each against a fresh gateway
// (as `npm start` runs it) and emulator, then the Redis scenarios (redis-reliability.ts, redis-memory.ts).
// BENCH_GATEWAY=<path to server.js> measures another build (for the "before" figures: the previous release's
// dist/server.js); BENCH_OLD_GATEWAY=<the previous release's dist/server.js> adds the rolling upgrade. BENCH_SCENARIOS
// picks some of them.
const GATEWAY_ENTRY = process.env.BENCH_GATEWAY ?? `${dist}server.js`
const ALL_SCENARIOS = 'hanging,leaving,redis,headers,metrics,sentinel,pause,cluster,ambiguous,redis-memory,redis-rss,rollout'
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? ALL_SCENARIOS).split(',')

async function startGateway (openimUrl: string, env: Record<string, string> = {}) {
  const port = await freePort()
  const child = fork(GATEWAY_ENTRY, [], {
    execArgv: startFlags(),
    env: gatewayEnv(openimUrl, port, { LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc']
  })
  children.push(child)
  // The gateway's own view: responseTimeMs of every /provision it answered, from its request log lines.
  const served: number[] = []
  eachLine(child, (line) => {
    if (line.includes('"url":"/provision"') && line.includes('request completed')) {
      served.push((JSON.parse(line) as { responseTimeMs: number }).responseTimeMs)
    }
  })
  const url = `http://127.0.0.1:${port}`
  await untilHealthy(url)
  return { child, url, port, served }
}

function stop (...processes: ChildProcess[]) {
  for (const child of processes) child.kill('SIGKILL')
}

const agent = new Agent({ connections: 2000, headersTimeout: 120_000, bodyTimeout: 120_000 })

async function provision (url: string, userID: string, signal?: AbortSignal): Promise<{ status: number, ms: number }> {
  const started = performance.now()
  try {
    const response = await fetch(`${url}/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ userID, platformID: 5 }),
      dispatcher: agent,
      signal
    })
    await response.arrayBuffer()
    return { status: response.status, ms: performance.now() - started }
  } catch {
    return { status: 0, ms: performance.now() - started }
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
const seconds = (ms: number) => (ms / 1000).toFixed(2)
const statuses = (answers: Array<{ status: number }>) => {
  const counts = new Map<number, number>()
  for (const { status } of answers) counts.set(status, (counts.get(status) ?? 0) + 1)
  return [...counts].sort(([a], [b]) => a - b).map(([status, count]) => `${count}× ${status === 0 ? 'no answer' : status}`).join(', ')
}

/**
 * Every OpenIM call hangs; `concurrency` provisions at once with the default timeouts. The event-loop guard
 * is off: a burst of a thousand connections lags the loop past its threshold on a busy machine, and its
 * 503s would hide what the OpenIM pool does.
 */
async function hanging (concurrency: number) {
  const emulator = await startEmulator(2)
  const gateway = await startGateway(emulator.url, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  await provision(gateway.url, 'warm')
  await ask(emulator.child, { type: 'fault', path: '*', fault: { kind: 'hang' }, times: null })
  gateway.served.length = 0
  const answers = await Promise.all(Array.from({ length: concurrency }, (_, i) => provision(gateway.url, `hung_${i}`)))
  const ms = answers.map((answer) => answer.ms)
  await new Promise((resolve) => setTimeout(resolve, 1000)) // the last log lines
  const inGateway = gateway.served
  console.log(`| ${concurrency} | ${seconds(percentile(ms, 50))} | ${seconds(percentile(ms, 99))} | ${seconds(Math.max(...ms))} | ` +
    `${seconds(percentile(inGateway, 50))} / ${seconds(percentile(inGateway, 99))} / ${seconds(Math.max(...inGateway))} | ` +
    `${statuses(answers)} |`)
  stop(gateway.child, emulator.child)
}

/** OpenIM answers in 1.5 s; 300 clients give up after 0.5 s. What does OpenIM still receive? */
async function leaving () {
  const emulator = await startEmulator(1500)
  const gateway = await startGateway(emulator.url)
  await provision(gateway.url, 'warm')
  const callsBefore = (await ask<{ calls: number }>(emulator.child, { type: 'calls' })).calls
  const usersBefore = (await ask<{ users: number }>(emulator.child, { type: 'users' })).users
  await Promise.all(Array.from({ length: 300 }, (_, i) => provision(gateway.url, `gone_${i}`, AbortSignal.timeout(500))))
  await new Promise((resolve) => setTimeout(resolve, 20_000))
  const calls = (await ask<{ calls: number }>(emulator.child, { type: 'calls' })).calls - callsBefore
  const users = (await ask<{ users: number }>(emulator.child, { type: 'users' })).users - usersBefore
  console.log(`| 300 clients leave after 0.5 s | ${calls} | ${users} |`)
  stop(gateway.child, emulator.child)
}

async function startRedis () {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' })
  children.push(child)
  const url = `redis://127.0.0.1:${port}`
  const admin = new Redis(url, { lazyConnect: true, retryStrategy: () => 50 })
  admin.on('error', () => {})
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await admin.connect()
      break
    } catch { await new Promise((resolve) => setTimeout(resolve, 50)) }
  }
  return { child, url, admin }
}

/** 8 clients provision existing users one after another for 6 s: Redis answering, then Redis paused (CLIENT PAUSE). */
async function redisPaused () {
  const redis = await startRedis()
  const emulator = await startEmulator(2)
  const gateway = await startGateway(emulator.url, { REDIS_URL: redis.url })
  for (let i = 0; i < 8; i++) await provision(gateway.url, `paused_${i}`)
  const run = async (name: string) => {
    const until = performance.now() + 6000
    const answers: Array<{ status: number, ms: number }> = []
    await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
      while (performance.now() < until) answers.push(await provision(gateway.url, `paused_${worker}`))
    }))
    const ms = answers.map((answer) => answer.ms)
    console.log(`| ${name} | ${answers.length} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} | ` +
      `${statuses(answers)} |`)
  }
  await run('Redis answering')
  await redis.admin.call('CLIENT', 'PAUSE', '8000', 'ALL')
  await run('Redis paused')
  redis.admin.disconnect()
  stop(gateway.child, emulator.child, redis.child)
}

/** 20 connections drip one header byte every 500 ms with HTTP_HEADERS_TIMEOUT_MS=3000: when are they cut? */
async function slowHeaders () {
  const emulator = await startEmulator(2)
  const gateway = await startGateway(emulator.url, { HTTP_HEADERS_TIMEOUT_MS: '3000' })
  const cuts = await Promise.all(Array.from({ length: 20 }, async () => {
    const socket = connect(gateway.port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    const started = performance.now()
    socket.write('POST /provision HTTP/1.1\r\nHost: gateway\r\nX-Drip: ')
    const drip = setInterval(() => { if (socket.writable) socket.write('a') }, 500)
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)))
    const gaveUp = new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 45_000))
    const cut = await Promise.race([closed, gaveUp])
    clearInterval(drip)
    socket.destroy()
    return cut
  }))
  console.log(`| 20 connections, HTTP_HEADERS_TIMEOUT_MS=3000 | ${seconds(Math.min(...cuts))} | ${seconds(percentile(cuts, 50))} | ` +
    `${seconds(Math.max(...cuts))} |`)
  stop(gateway.child, emulator.child)
}

/** Legitimate provisions (8 connections) alone, then under a /metrics flood of 64 connections. */
async function metricsFlood () {
  const emulator = await startEmulator(2)
  const gateway = await startGateway(emulator.url)
  const metricsPort = await freePort()
  const withPort = await startGateway(emulator.url, { METRICS_PORT: String(metricsPort) })
  const runs: Array<[string, string, string | undefined]> = [
    ['no flood', gateway.url, undefined],
    ['flood on the API port', gateway.url, `${gateway.url}/metrics`],
    ['METRICS_PORT set, flood on the API port (404)', withPort.url, `${withPort.url}/metrics`],
    ['METRICS_PORT set, flood on the metrics port', withPort.url, `http://127.0.0.1:${metricsPort}/metrics`]
  ]
  for (const [name, url, floodUrl] of runs) {
    let i = 0
    const legit = autocannon({
      url,
      connections: 8,
      duration: 8,
      requests: [{
        method: 'POST',
        path: '/provision',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ userID: `flood_${i++ % 200}`, platformID: 5 }) })
      }]
    })
    const flood = floodUrl === undefined ? undefined : autocannon({ url: floodUrl, connections: 64, duration: 8 })
    const [result, scrapes] = await Promise.all([legit, flood])
    const served = scrapes === undefined
      ? '—'
      : `${(scrapes['2xx'] / scrapes.duration).toFixed(0)}/s served, ${scrapes.non2xx} refused, ${scrapes.errors} connections dropped`
    console.log(`| ${name} | ${result.latency.p50.toFixed(1)} | ${result.latency.p99.toFixed(1)} | ` +
      `${(result['2xx'] / result.duration).toFixed(0)} | ${served} |`)
  }
  stop(gateway.child, withPort.child, emulator.child)
}

async function main () {
  console.log(`openim-gateway reliability bench: ${GATEWAY_ENTRY}, node ${process.version}`)
  if (SCENARIOS.includes('hanging')) {
    console.log('\nEvery OpenIM call hangs (OPENIM_TIMEOUT_MS=5000, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0, other settings default)')
    console.log('| concurrent requests | p50 s | p99 s | slowest s | in the gateway: p50 / p99 / slowest s | answers |\n' +
      '|---:|---:|---:|---:|---:|---|')
    await hanging(200)
    await hanging(1000)
  }
  if (SCENARIOS.includes('leaving')) {
    console.log('\nClients that leave (OpenIM latency 1.5 s); OpenIM watched for 20 s')
    console.log('| scenario | OpenIM calls | users registered |\n|---|---:|---:|')
    await leaving()
  }
  if (SCENARIOS.includes('redis')) {
    console.log('\nRedis answering, then paused (CLIENT PAUSE): 8 clients for 6 s each, REDIS_URL set')
    console.log('| scenario | requests | p50 ms | p99 ms | answers |\n|---|---:|---:|---:|---|')
    await redisPaused()
  }
  if (SCENARIOS.includes('headers')) {
    console.log('\nSlow headers: when a dripping connection is cut')
    console.log('| scenario | first cut s | median s | last s |\n|---|---:|---:|---:|')
    await slowHeaders()
  }
  if (SCENARIOS.includes('metrics')) {
    console.log('\n/metrics flood: legitimate provisions of existing users (8 connections, 8 s)')
    console.log('| run | p50 ms | p99 ms | provisions/s | scrapes served |\n|---|---:|---:|---:|---|')
    await metricsFlood()
  }
  await redisScenarios()
}

async function redisScenarios () {
  if (SCENARIOS.includes('sentinel')) {
    console.log('\nSentinel primary killed 5 s into 25 s of steady load (12 clients, 100 users) on 3 replicas that had each served ' +
      'every user once')
    console.log('| answers | statuses | 5xx but 503+Retry-After | promoted after the kill, s | ' +
      'each replica back on Redis after the promotion, s | ' +
      'most mints per user, whole run | mints during the run |\n|---:|---|---:|---:|---|---:|---:|')
    await sentinelFailover()
  }
  if (SCENARIOS.includes('pause')) {
    console.log('\nCLIENT PAUSE 4000 ALL, 3 s into 10 s of round-robin load (8 clients, 100 users holding live tokens) on 2 replicas')
    console.log('| provisions | statuses | mints | provisions that minted |\n|---:|---|---:|---:|')
    await clientPause()
  }
  if (SCENARIOS.includes('cluster')) {
    console.log('\nRedis Cluster (3 primaries, 3 replicas, cluster-node-timeout 2000), 2 replicas, 8 clients, 100 users')
    console.log('| phase | answers | statuses | | | |\n|---|---:|---|---|---|---|')
    await clusterUnderLoad()
  }
  if (SCENARIOS.includes('ambiguous')) {
    console.log('\nA lock request answered after 700 ms (command timeout 500 ms), 10 provisions of a new user over 2 replicas per trial')
    console.log('| trials | answers | statuses | double mints | 504 |\n|---:|---:|---|---:|---:|')
    await ambiguousLock()
  }
  if (SCENARIOS.includes('redis-memory')) {
    console.log('\nRedis memory per remembered token (INFO used_memory before and after, divided by the tokens)')
    console.log('| when | tokens | token characters | bytes per token | MEMORY USAGE of one token key | ' +
      '1,000,000 users (one platform) |\n' +
      '|---|---:|---:|---:|---:|---:|')
    await redisMemory()
  }
  if (SCENARIOS.includes('redis-rss')) {
    console.log('\nA replica with REDIS_URL: resident memory (V8 heap in use) through provisions of distinct users, ' +
      'TOKEN_CACHE_MAX_ENTRIES default')
    console.log('| provisions | failed | resident MB (heap MB) after each tenth |\n|---:|---:|---|')
    await residentMemory(100_000)
  }
  const oldEntry = process.env.BENCH_OLD_GATEWAY
  if (SCENARIOS.includes('rollout') && oldEntry !== undefined) {
    console.log(`\nRolling upgrade: 30 new users, 12 concurrent provisions each over 3 replicas (2 of ${oldEntry}), ` +
      'then each user on each replica')
    console.log('| replicas | users | answers | statuses | most mints per user | users minted twice |\n|---|---:|---:|---|---:|---:|')
    await rollout(oldEntry)
  }
}

try {
  await main()
} finally {
  for (const child of children) child.kill('SIGKILL')
  await agent.close()
  await closeServers()
}
