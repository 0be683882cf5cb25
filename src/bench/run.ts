import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import autocannon, { type Result } from 'autocannon'
import { apiKey, ask, children, dist, freePort, secret, setting, startChild, startEmulator, untilHealthy } from './processes.js'
import { figures, mean, table, type Figures } from './report.js'

// `npm run bench`: the gateway against a hand-written naive implementation and against the limit (the
// emulator alone answering the two calls an existing user needs), and with tracing on (every request
// sampled, spans exported to a local OTLP sink) against tracing off, in one run, runs alternated so machine
// noise hits all of them; then the gateway's memory through many provisions of distinct users.
const LATENCY_MS = setting('BENCH_OPENIM_LATENCY_MS', 2)
const CONNECTIONS = setting('BENCH_CONNECTIONS', 32)
const DURATION_S = setting('BENCH_DURATION_SECONDS', 8)
const ROUNDS = setting('BENCH_ROUNDS', 2)
const EXISTING_USERS = setting('BENCH_EXISTING_USERS', 4000)
const MEMORY_PROVISIONS = setting('BENCH_MEMORY_PROVISIONS', 100_000)
const STORE_ENTRIES = setting('BENCH_STORE_ENTRIES', 100_000)
/** A folder: the gateway runs with --cpu-prof and writes its profile there on exit. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE

const HEAP_FLAGS = ['--max-old-space-size=128']

async function startGateway (openimUrl: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess, url: string }> {
  const port = await freePort()
  const child = fork(dist + 'server.js', [], {
    // As `npm start` and the image run it (see package.json "start"), so the memory figures are production's.
    execArgv: [...HEAP_FLAGS, ...(CPU_PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROFILE_DIR])],
    env: {
      PATH: process.env.PATH ?? '',
      OPENIM_API_URL: openimUrl,
      OPENIM_SECRET: secret,
      GATEWAY_API_KEYS: `bench:${apiKey}`,
      RATE_LIMIT_MAX: '1000000',
      // On a machine shared with other work the event loop lags past the 1 s guard now and then, and the
      // gateway would shed requests at random: the bench measures throughput, not load shedding.
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...extraEnv
    },
    // Request logs at info, as in production, written to /dev/null.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await untilHealthy(url)
  return { child, url }
}

/** A counter of a child process, over IPC: the emulator's OpenIM `calls`, the OTLP sink's `spans`. */
const count = async (child: ChildProcess, counter: 'calls' | 'spans') =>
  (await ask<Record<typeof counter, number>>(child, { type: counter }))[counter]

/** Drives POST /provision; `userFor(i)` names the i-th request's user, so no two in-flight requests share one. */
async function provisionLoad (url: string, headers: Record<string, string>, userFor: (i: number) => string, amount?: number): Promise<Result> {
  let i = 0
  return autocannon({
    url,
    connections: CONNECTIONS,
    ...(amount === undefined ? { duration: DURATION_S } : { amount }),
    requests: [{
      method: 'POST',
      path: '/provision',
      headers: { 'content-type': 'application/json', ...headers },
      setupRequest: (request) => ({ ...request, body: JSON.stringify({ userID: userFor(i++), platformID: 5 }) })
    }]
  })
}

async function measure (name: string, emulator: ChildProcess, run: () => Promise<Result>, provisionsPerRequest = 1, latencyFactor = 1) {
  const before = await count(emulator, 'calls')
  const result = await run()
  return figures(name, result, (await count(emulator, 'calls')) - before, provisionsPerRequest, latencyFactor)
}

async function adminToken (openimUrl: string): Promise<string> {
  const response = await fetch(`${openimUrl}/auth/get_admin_token`, {
    method: 'POST', headers: { operationID: 'bench' }, body: JSON.stringify({ secret, userID: 'imAdmin' })
  })
  return ((await response.json()) as { data: { token: string } }).data.token
}

/** The limit: the emulator alone, answering account_check then get_user_token for existing users. */
async function limitLoad (openimUrl: string, token: string): Promise<Result> {
  let i = 0
  const headers = { 'content-type': 'application/json', operationID: 'bench', token }
  return autocannon({
    url: openimUrl,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      { method: 'POST', path: '/user/account_check', headers, setupRequest: (request) => ({ ...request, body: JSON.stringify({ checkUserIDs: [`existing_${i % EXISTING_USERS}`] }) }) },
      { method: 'POST', path: '/auth/get_user_token', headers, setupRequest: (request) => ({ ...request, body: JSON.stringify({ userID: `existing_${i++ % EXISTING_USERS}`, platformID: 5 }) }) }
    ]
  })
}

/** Gauges and counters of a gateway, from its own /metrics. */
async function gatewayMetrics (gatewayUrl: string, names: string[]): Promise<number[]> {
  const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text()
  return names.map((name) => Number(new RegExp(`^openim_gateway_${name} (\\S+)$`, 'm').exec(metrics)?.[1]))
}

/** The gateway's resident set and V8 heap in use, in MB. */
async function memoryMb (gatewayUrl: string): Promise<{ rss: number, heap: number }> {
  const [rss = 0, heap = 0] = await gatewayMetrics(gatewayUrl, ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes'])
  return { rss: rss / 1024 / 1024, heap: heap / 1024 / 1024 }
}

/** Runs `run` and adds the CPU seconds the gateway spent meanwhile to `total[name]`. */
async function withCpu (gatewayUrl: string, total: Record<string, number>, name: string, run: () => Promise<Figures>): Promise<Figures> {
  const [before = 0] = await gatewayMetrics(gatewayUrl, ['process_cpu_seconds_total'])
  const result = await run()
  const [after = 0] = await gatewayMetrics(gatewayUrl, ['process_cpu_seconds_total'])
  total[name] = (total[name] ?? 0) + after - before
  return result
}

async function main () {
  console.log(`openim-gateway bench: ${CONNECTIONS} connections, ${DURATION_S} s per run, ${ROUNDS} rounds, OpenIM latency ${LATENCY_MS} ms, node ${process.version}`)
  const { child: emulator, url: openimUrl } = await startEmulator(LATENCY_MS)
  const { url: gatewayUrl } = await startGateway(openimUrl)
  // The same gateway minting on every provision (as before token reuse): the comparison's existing-user runs.
  const { url: mintingUrl } = await startGateway(openimUrl, { TOKEN_REUSE: 'false' })
  const { url: naiveUrl } = await startChild('bench/naive.js', { OPENIM_API_URL: openimUrl, OPENIM_SECRET: secret })
  // The same gateway with tracing on, exporting to a local sink: every request sampled, and none.
  const { child: sink, url: sinkUrl } = await startChild('bench/otlp-sink.js', {})
  // The comparison with the naive code and with tracing: every gateway mints on each provision (TOKEN_REUSE=false),
  // so all of them make the same OpenIM calls; compareReuse measures reuse on its own users.
  const gateways: Record<string, string> = {
    [OFF]: mintingUrl,
    [ON]: (await startGateway(openimUrl, { TOKEN_REUSE: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl })).url,
    [NONE_SAMPLED]: (await startGateway(openimUrl, { TOKEN_REUSE: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'always_off' })).url
  }
  const gatewayHeaders = { 'x-api-key': apiKey }

  // Existing users for the "existing" runs, created through the gateway.
  const seeded = await provisionLoad(mintingUrl, gatewayHeaders, (i) => `existing_${i}`, EXISTING_USERS)
  if (seeded['2xx'] !== EXISTING_USERS) throw new Error(`seeding failed: ${seeded['2xx']} of ${EXISTING_USERS}`)
  // As many requests through the traced gateways, so that all are equally warm.
  for (const url of [gateways[ON]!, gateways[NONE_SAMPLED]!]) await provisionLoad(url, gatewayHeaders, (i) => `existing_${i}`, EXISTING_USERS)

  if (ROUNDS > 0) await compare({ emulator, sink, openimUrl, gateways, naiveUrl }, gatewayHeaders)
  if (ROUNDS > 0) await compareReuse(emulator, openimUrl, { reusing: gatewayUrl, minting: mintingUrl, naive: naiveUrl }, gatewayHeaders)
  if (MEMORY_PROVISIONS > 0) await memory(gatewayUrl, gatewayHeaders)
  if (STORE_ENTRIES > 0) await storeMemory()
}

/**
 * Existing users holding a live token the gateway remembers (TOKEN_REUSE on, as by default on OpenIM v3.8.1+):
 * one parse_token per provision. Beside it in the same rounds: the gateway minting on every call
 * (TOKEN_REUSE=false), the naive implementation, and the limit for one call (the emulator alone answering
 * parse_token). Its users are its own, so the minting runs never kick the tokens it remembers.
 */
async function compareReuse (emulator: ChildProcess, openimUrl: string, urls: { reusing: string, minting: string, naive: string }, gatewayHeaders: Record<string, string>) {
  const seeded = await provisionLoad(urls.reusing, gatewayHeaders, (i) => `reusing_${i}`, EXISTING_USERS)
  if (seeded['2xx'] !== EXISTING_USERS) throw new Error(`seeding failed: ${seeded['2xx']} of ${EXISTING_USERS}`)
  const tokens: string[] = []
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${urls.reusing}/provision`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...gatewayHeaders }, body: JSON.stringify({ userID: `reusing_${i}`, platformID: 5 })
    })
    tokens.push(((await response.json()) as { token: string }).token)
  }
  const limitName = 'limit (emulator alone, parse_token)'
  const rows: Figures[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`reuse round ${round}/${ROUNDS}…\n`)
    rows.push(await measure(limitName, emulator, () => parseTokenLoad(openimUrl, tokens)))
    rows.push(await measure('gateway, live token remembered', emulator, () => provisionLoad(urls.reusing, gatewayHeaders, (i) => `reusing_${i % EXISTING_USERS}`)))
    rows.push(await measure('gateway, TOKEN_REUSE=false', emulator, () => provisionLoad(urls.minting, gatewayHeaders, (i) => `existing_${i % EXISTING_USERS}`)))
    rows.push(await measure('naive', emulator, () => provisionLoad(urls.naive, {}, (i) => `existing_${i % EXISTING_USERS}`)))
  }
  const [limit, reusing, minting, naive] = [limitName, 'gateway, live token remembered', 'gateway, TOKEN_REUSE=false', 'naive'].map((name) => mean(rows, name)) as [Figures, Figures, Figures, Figures]
  table('Existing users with a live remembered token (mean of rounds)', [limit, reusing, minting, naive])
  console.log(`\n- reuse / mint per call (TOKEN_REUSE=false) throughput: ${(reusing.perSecond / minting.perSecond).toFixed(2)}×`)
  console.log(`- reuse / naive throughput: ${(reusing.perSecond / naive.perSecond).toFixed(2)}×`)
  console.log(`- reuse / limit (one call) throughput: ${(reusing.perSecond / limit.perSecond).toFixed(2)}; p99 ${(reusing.p99 / limit.p99).toFixed(2)}× the limit's`)
}

/** The limit for a reused token: the emulator alone answering parse_token, the one call it costs. */
function parseTokenLoad (openimUrl: string, tokens: string[]): Promise<Result> {
  let i = 0
  return autocannon({
    url: openimUrl,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [{
      method: 'POST',
      path: '/auth/parse_token',
      headers: { 'content-type': 'application/json', operationID: 'bench' },
      setupRequest: (request) => ({ ...request, body: JSON.stringify({ token: tokens[i++ % tokens.length] }) })
    }]
  })
}

/** The in-memory token store's own heap at STORE_ENTRIES entries, measured in a process of its own. */
async function storeMemory () {
  const child = fork(dist + 'bench/store-memory.js', [String(STORE_ENTRIES)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  await once(child, 'exit')
}

/** Spans leave in batches, every 5 s at the latest: wait for the last ones before counting. */
const spansExported = () => new Promise((resolve) => setTimeout(resolve, 6000))

const OFF = 'gateway'
const ON = 'gateway, tracing on'
const NONE_SAMPLED = 'gateway, tracing on, none sampled'

interface Targets { emulator: ChildProcess, sink: ChildProcess, openimUrl: string, gateways: Record<string, string>, naiveUrl: string }

async function compare ({ emulator, sink, openimUrl, gateways, naiveUrl }: Targets, gatewayHeaders: Record<string, string>) {
  const gatewayUrl = gateways[OFF]!
  const token = await adminToken(openimUrl)
  const existing: Figures[] = []
  const fresh: Figures[] = []
  const cpu: Record<string, number> = {}
  let newUser = 0
  await spansExported()
  const spansBefore = await count(sink, 'spans')
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`round ${round}/${ROUNDS}…\n`)
    existing.push(await measure('limit (emulator alone, 2 calls)', emulator, () => limitLoad(openimUrl, token), 2, 2))
    for (const [name, url] of Object.entries(gateways)) {
      existing.push(await withCpu(url, cpu, name, () => measure(name, emulator, () => provisionLoad(url, gatewayHeaders, (i) => `existing_${i % EXISTING_USERS}`))))
    }
    existing.push(await measure('naive', emulator, () => provisionLoad(naiveUrl, {}, (i) => `existing_${i % EXISTING_USERS}`)))
    fresh.push(await measure('gateway', emulator, () => provisionLoad(gatewayUrl, gatewayHeaders, () => `new_gw_${newUser++}`)))
    fresh.push(await measure('naive', emulator, () => provisionLoad(naiveUrl, {}, () => `new_naive_${newUser++}`)))
  }

  const limit = mean(existing, 'limit (emulator alone, 2 calls)')
  const [gateway, traced, unsampled] = [OFF, ON, NONE_SAMPLED].map((name) => mean(existing, name)) as [Figures, Figures, Figures]
  const naive = mean(existing, 'naive')
  table('Existing users (mean of rounds)', [limit, gateway, traced, unsampled, naive])
  console.log(`\n- gateway / naive throughput: ${(gateway.perSecond / naive.perSecond).toFixed(2)}× (target ≥ 2)`)
  console.log(`- gateway / limit throughput: ${(gateway.perSecond / limit.perSecond).toFixed(2)} (target ≥ 0.5)`)
  console.log(`- gateway p99 / limit p99: ${(gateway.p99 / limit.p99).toFixed(2)} (target < 3); the limit's latency is 2 × one call's`)
  const freshGateway = mean(fresh, 'gateway')
  const freshNaive = mean(fresh, 'naive')
  table('New users (mean of rounds)', [freshGateway, freshNaive])
  console.log(`\n- gateway / naive throughput: ${(freshGateway.perSecond / freshNaive.perSecond).toFixed(2)}×`)

  await spansExported()
  const spansPerProvision = ((await count(sink, 'spans')) - spansBefore) / (traced.provisions * ROUNDS)
  // CPU time per provision is what tracing costs the gateway itself, whoever else shares the machine.
  const cpuPerProvision = (figures: Figures) => (cpu[figures.name] ?? 0) / (figures.provisions * ROUNDS) * 1e6
  console.log('\nTracing (spans exported to a local OTLP sink) against off, existing users')
  console.log('| tracing | throughput | p99 | gateway CPU per provision |\n|---|---:|---:|---:|')
  for (const [label, figures] of [['off', gateway], ['on, every request sampled', traced], ['on, none sampled', unsampled]] as const) {
    console.log(`| ${label} | ${(figures.perSecond / gateway.perSecond).toFixed(2)} | ${(figures.p99 / gateway.p99).toFixed(2)}× | ` +
      `${cpuPerProvision(figures).toFixed(0)} µs (${(cpuPerProvision(figures) / cpuPerProvision(gateway)).toFixed(2)}×) |`)
  }
  console.log(`\n- throughput cost at full sampling: ${((1 - traced.perSecond / gateway.perSecond) * 100).toFixed(0)}% (target < 10%)`)
  console.log(`- ${spansPerProvision.toFixed(2)} spans exported per sampled provision (4 when none is dropped: the request, the flow, 2 OpenIM calls)`)
}

/** Resident memory through MEMORY_PROVISIONS provisions of distinct users, sampled every tenth. */
async function memory (gatewayUrl: string, gatewayHeaders: Record<string, string>) {
  const step = Math.max(1, Math.floor(MEMORY_PROVISIONS / 10))
  const samples = [{ done: 0, ...(await memoryMb(gatewayUrl)) }]
  let distinct = 0
  let failed = 0
  process.stderr.write(`memory: ${MEMORY_PROVISIONS} provisions of distinct users…\n`)
  while (distinct < MEMORY_PROVISIONS) {
    const result = await provisionLoad(gatewayUrl, gatewayHeaders, () => `memory_${distinct++}`, Math.min(step, MEMORY_PROVISIONS - distinct))
    failed += result.non2xx + result.errors + result.timeouts
    samples.push({ done: distinct, ...(await memoryMb(gatewayUrl)) })
  }
  const half = samples.find((sample) => sample.done >= MEMORY_PROVISIONS / 2)!
  const end = samples.at(-1)!
  const peak = Math.max(...samples.map((sample) => sample.rss))
  const growth = end.rss - half.rss
  console.log(`\nMemory: gateway resident set (V8 heap in use) through ${MEMORY_PROVISIONS} provisions of distinct users (${failed} failed)`)
  console.log(samples.map((sample) => `${sample.done}: ${sample.rss.toFixed(0)} MB (${sample.heap.toFixed(0)})`).join(', '))
  console.log(`- peak ${peak.toFixed(1)} MB (target < 150); from ${half.done} to ${end.done}: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB (target: no growth)`)
}

try {
  await main()
} finally {
  for (const child of children) child.kill('SIGTERM')
}
