import autocannon from 'autocannon'
import { cpuMicroseconds, loadAverage } from './cpu.js'
import { residentMemory, storeMemory } from './memory.js'
import {
  apiKey, ask, children, hasRedisServer, secret, setting, startChild, startEmulator, startGateway, startRedisServer, type GatewayProcess
} from './processes.js'
import { cpuTable, detailTable, loadRange, median, sample, type Sample } from './report.js'

// `npm run bench`: the gateway's CPU time per request on each /provision path, next to the floor (floor.ts: a bare
// Fastify route making the same OpenIM calls with undici) started in the same run, and the ratio. CPU time per
// request holds still on a machine shared with other work, where requests per second do not: throughput and
// latency are printed too, as secondary figures. Every sample is a fixed number of requests; the runs alternate
// over the rounds so that the machine's moods hit all of them, and the median of the rounds is the figure. The
// memory store first, then the same paths with Redis, then tracing, then memory.
const REQUESTS = setting('BENCH_REQUESTS', 12_000)
const ROUNDS = Math.max(1, setting('BENCH_ROUNDS', 3))
const WARMUP = setting('BENCH_WARMUP_REQUESTS', 3000)
const CONNECTIONS = setting('BENCH_CONNECTIONS', 32)
const LATENCY_MS = setting('BENCH_OPENIM_LATENCY_MS', 2)
const USERS = Math.max(CONNECTIONS + 1, setting('BENCH_EXISTING_USERS', 4000))
const WITH_REDIS = setting('BENCH_REDIS', 1) > 0 && hasRedisServer()
const WITH_TRACING = setting('BENCH_TRACING', 1) > 0
const MEMORY_PROVISIONS = setting('BENCH_MEMORY_PROVISIONS', 100_000)
const STORE_ENTRIES = setting('BENCH_STORE_ENTRIES', 100_000)
/** Only the runs whose names contain one of these words (BENCH_ONLY=remembered,floor), for a quick look at one path. */
const ONLY = process.env.BENCH_ONLY?.split(',')
/**
 * Settings added to every gateway (BENCH_GATEWAY_ENV=LOG_LEVEL=warn,TOKEN_CACHE_MAX_ENTRIES=1000), to see what a
 * piece costs by turning it off.
 */
const GATEWAY_ENV = Object.fromEntries((process.env.BENCH_GATEWAY_ENV ?? '').split(',').filter((pair) => pair.includes('='))
  .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
/** A folder: the gateways run with --cpu-prof and write their profiles there when they exit. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE
const FLOOR_USERS = 100

/** What one sample drives: `requests` POSTs to `path` of the process `pid` listening at `url`. */
interface Run { name: string, pid: number, url: string, path: string, headers: Record<string, string>, body: () => string }

const jsonHeaders = { 'content-type': 'application/json' }

/** POST /provision to a gateway, for the users `nextUser` names (never two in flight for one user). */
const provisionRun = (name: string, gateway: GatewayProcess, nextUser: () => string): Run => ({
  name,
  pid: gateway.pid,
  url: gateway.url,
  path: '/provision',
  headers: { ...jsonHeaders, 'x-api-key': apiKey },
  body: () => JSON.stringify({ userID: nextUser(), platformID: 5 })
})

/** The `count` users of `prefix` in turn. */
function cycle (prefix: string, count = USERS): () => string {
  let i = 0
  return () => `${prefix}_${i++ % count}`
}

/** Users never seen before. */
function fresh (prefix: string): () => string {
  let i = 0
  return () => `${prefix}_${i++}`
}

async function drive (run: Run, amount: number) {
  return autocannon({
    url: run.url,
    connections: CONNECTIONS,
    amount,
    requests: [{ method: 'POST', path: run.path, headers: run.headers, setupRequest: (request) => ({ ...request, body: run.body() }) }]
  })
}

/** One sample: REQUESTS requests, the CPU time the process spent meanwhile, the OpenIM calls they made. */
async function measure (run: Run, emulator: Emulator): Promise<Sample> {
  const load = loadAverage()
  const calls = await emulator.calls()
  const cpu = cpuMicroseconds(run.pid)
  const result = await drive(run, REQUESTS)
  const spent = cpuMicroseconds(run.pid) - cpu
  const measured = sample(result, spent, (await emulator.calls()) - calls, load)
  if (measured.failures > 0) process.stderr.write(`${run.name}: ${measured.failures} requests failed\n`)
  return measured
}

interface Emulator { url: string, calls (): Promise<number> }

/** The floor process, with the tokens of its one-call route and the users of its two-call route registered. */
async function startFloor (emulator: Emulator) {
  const floor = await startChild('bench/floor.js', { OPENIM_API_URL: emulator.url, OPENIM_SECRET: secret })
  const post = async (path: string, body: unknown, token?: string) => {
    const headers = { ...jsonHeaders, operationID: 'bench', ...(token === undefined ? {} : { token }) }
    const response = await fetch(emulator.url + path, { method: 'POST', headers, body: JSON.stringify(body) })
    return ((await response.json()) as { data: any }).data
  }
  const admin = (await post('/auth/get_admin_token', { secret, userID: 'imAdmin' })).token as string
  const users = (prefix: string) =>
    Array.from({ length: FLOOR_USERS }, (_, i) => ({ userID: `${prefix}_${i}`, nickname: `${prefix}_${i}` }))
  await post('/user/user_register', { users: [...users('floor1'), ...users('floor2')] }, admin)
  const tokens: string[] = []
  for (const { userID } of users('floor1')) tokens.push((await post('/auth/get_user_token', { userID, platformID: 5 }, admin)).token)
  let i = 0
  const floorRun = (name: string, path: string, body: () => unknown): Run =>
    ({ name, pid: floor.child.pid!, url: floor.url, path, headers: jsonHeaders, body: () => JSON.stringify(body()) })
  const mintUser = cycle('floor2', FLOOR_USERS)
  const newUser = fresh('floor4')
  return {
    one: floorRun('floor, 1 call (parse_token)', '/one', () => ({ token: tokens[i++ % tokens.length] })),
    two: floorRun('floor, 2 calls (account_check, get_user_token)', '/two', () => ({ userID: mintUser(), platformID: 5 })),
    four: floorRun('floor, 4 calls (+ user_register, account_check)', '/four', () => ({ userID: newUser(), platformID: 5 }))
  }
}

const profiled = () => CPU_PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROFILE_DIR]

/** The gateways of one token store: one reusing tokens (its new users too), one minting on every call. */
async function gatewayRuns (label: string, emulator: Emulator, env: Record<string, string>) {
  const reusing = await startGateway(emulator.url, { ...env, ...GATEWAY_ENV }, profiled())
  const minting = await startGateway(emulator.url, { ...env, ...GATEWAY_ENV, TOKEN_REUSE: 'false' }, profiled())
  const prefix = label.replace(/\W/g, '')
  return {
    reuse: provisionRun(`gateway, ${label}, live token remembered`, reusing, cycle(`${prefix}reuse`)),
    mint: provisionRun(`gateway, ${label}, TOKEN_REUSE=false`, minting, cycle(`${prefix}mint`)),
    created: provisionRun(`gateway, ${label}, new users`, reusing, fresh(`${prefix}new`))
  }
}

async function main () {
  console.log(`openim-gateway bench: CPU time per request, ${REQUESTS} requests per sample, ${ROUNDS} rounds, ` +
    `${CONNECTIONS} connections, OpenIM latency ${LATENCY_MS} ms, node ${process.version}, load average ${loadAverage().toFixed(1)}`)
  const emulatorProcess = await startEmulator(LATENCY_MS)
  const emulator: Emulator = {
    url: emulatorProcess.url,
    calls: async () => (await ask<{ calls: number }>(emulatorProcess.child, { type: 'calls' })).calls
  }
  const floor = await startFloor(emulator)
  const memory = await gatewayRuns('memory store', emulator, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  const redis = WITH_REDIS
    ? await gatewayRuns('Redis', emulator, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', REDIS_URL: (await startRedisServer()).url })
    : undefined
  const sink = WITH_TRACING ? await startChild('bench/otlp-sink.js', {}) : undefined
  const traced = sink === undefined
    ? undefined
    : {
        none: provisionRun('gateway, tracing on, none sampled', await startGateway(emulator.url, {
          OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_off'
        }, profiled()), cycle('tracednone')),
        all: provisionRun('gateway, tracing on, every request sampled', await startGateway(emulator.url, {
          OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url
        }, profiled()), cycle('tracedall'))
      }

  const runs = [floor.one, floor.two, floor.four, memory.reuse, memory.mint, memory.created,
    ...(redis === undefined ? [] : [redis.reuse, redis.mint, redis.created]),
    ...(traced === undefined ? [] : [traced.none, traced.all])
  ].filter((run) => ONLY === undefined || ONLY.some((word) => run.name.includes(word)))

  // Every user of the existing-user runs gets a token first (each run has users of its own, so no run's mint
  // kicks a token another one remembers); then every run is warmed up, unmeasured.
  process.stderr.write('seeding and warming up…\n')
  for (const run of runs.filter((one) => one.path === '/provision' && !one.name.endsWith('new users'))) {
    const seeded = await drive(run, USERS)
    if (seeded['2xx'] !== USERS) throw new Error(`seeding ${run.name} failed: ${seeded['2xx']} of ${USERS}`)
  }
  for (const run of runs) await drive(run, WARMUP)
  const spansBefore = sink === undefined ? 0 : await exportedSpans(sink.child)

  const samples = new Map<Run, Sample[]>(runs.map((run) => [run, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`round ${round}/${ROUNDS}…\n`)
    for (const run of runs) samples.get(run)!.push(await measure(run, emulator))
  }
  const of = (run: Run) => samples.get(run) ?? []
  const rowsOf = (gateways: typeof memory) => [
    { path: 'reuse (1 OpenIM call)', gateway: of(gateways.reuse), floor: of(floor.one) },
    { path: 'mint, TOKEN_REUSE=false (2 calls)', gateway: of(gateways.mint), floor: of(floor.two) },
    { path: 'new user (4 calls)', gateway: of(gateways.created), floor: of(floor.four) }
  ].filter((row) => row.gateway.length > 0 && row.floor.length > 0)

  cpuTable('Gateway CPU per request against the floor, memory store (no REDIS_URL)', rowsOf(memory))
  if (redis !== undefined) cpuTable('The same with REDIS_URL (a local redis-server; the floor uses no Redis)', rowsOf(redis))
  if (traced !== undefined && sink !== undefined) {
    tracingTable(of(memory.reuse), of(traced.none), of(traced.all), (await exportedSpans(sink.child)) - spansBefore)
  }
  detailTable('Every run (secondary figures, medians of the rounds)', runs.map((run) => [run.name, of(run)]))

  if (MEMORY_PROVISIONS > 0) {
    await residentMemory('memory store', (await startGateway(emulator.url)).url, MEMORY_PROVISIONS, CONNECTIONS)
    if (WITH_REDIS) {
      const { url } = await startGateway(emulator.url, { REDIS_URL: (await startRedisServer()).url })
      await residentMemory('Redis', url, MEMORY_PROVISIONS, CONNECTIONS)
    }
  }
  if (STORE_ENTRIES > 0) await storeMemory(STORE_ENTRIES)
}

/** The spans the OTLP sink received so far, once the last batch has left (every 5 s at the latest). */
async function exportedSpans (sink: Parameters<typeof ask>[0]): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 6000))
  return (await ask<{ spans: number }>(sink, { type: 'spans' })).spans
}

/** What tracing adds to the reuse path, in µs of CPU per request, and whether every sampled span was exported. */
function tracingTable (off: Sample[], none: Sample[], all: Sample[], spans: number) {
  if (off.length === 0 || none.length === 0 || all.length === 0) return
  const base = median(off.map((one) => one.cpuMicroseconds))
  console.log('\nTracing on the reuse path, memory store (spans exported to a local OTLP sink; ' +
    `load average ${loadRange([...off, ...none, ...all])})`)
  console.log('| tracing | gateway µs/req | over tracing off |\n|---|---:|---:|')
  console.log(`| off | ${base.toFixed(0)} | |`)
  for (const [label, samples] of [['on, none sampled', none], ['on, every request sampled', all]] as const) {
    const cost = median(samples.map((one) => one.cpuMicroseconds))
    console.log(`| ${label} | ${cost.toFixed(0)} | ${cost >= base ? '+' : ''}${(cost - base).toFixed(0)} µs |`)
  }
  console.log(`\n- ${(spans / (REQUESTS * all.length)).toFixed(2)} spans exported per sampled request ` +
    '(3 when none is dropped: the request, the flow, parse_token)')
}

try {
  await main()
} finally {
  for (const child of children) child.kill('SIGTERM')
}
