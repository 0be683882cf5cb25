import { fork } from 'node:child_process'
import { once } from 'node:events'
import autocannon from 'autocannon'
import { loadAverage } from './cpu.js'
import { apiKey, children, dist } from './processes.js'

// `npm run bench`'s memory figures: the gateway's resident set through many provisions of distinct users, and the
// in-memory token store's heap per remembered token, measured alone.

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

/** Resident memory of a freshly started gateway through `provisions` provisions of distinct users, sampled every tenth. */
export async function residentMemory (label: string, gatewayUrl: string, provisions: number, connections: number) {
  const step = Math.max(1, Math.floor(provisions / 10))
  const samples = [{ done: 0, ...(await memoryMb(gatewayUrl)) }]
  let distinct = 0
  let failed = 0
  const load = loadAverage()
  process.stderr.write(`memory (${label}): ${provisions} provisions of distinct users…\n`)
  while (distinct < provisions) {
    const result = await autocannon({
      url: gatewayUrl,
      connections,
      amount: Math.min(step, provisions - distinct),
      requests: [{
        method: 'POST',
        path: '/provision',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ userID: `memory_${distinct++}`, platformID: 5 }) })
      }]
    })
    failed += result.non2xx + result.errors + result.timeouts
    samples.push({ done: distinct, ...(await memoryMb(gatewayUrl)) })
  }
  const half = samples.find((one) => one.done >= provisions / 2)!
  const end = samples.at(-1)!
  const peak = Math.max(...samples.map((one) => one.rss))
  console.log(`\nMemory, ${label}: resident set (V8 heap in use) in MB through ${provisions} provisions of distinct users ` +
    `(${failed} failed; load average ${load.toFixed(1)}–${loadAverage().toFixed(1)})`)
  console.log(samples.map((one) => `${one.done}: ${one.rss.toFixed(0)} (${one.heap.toFixed(0)})`).join(', '))
  console.log(`- peak ${peak.toFixed(1)} MB (target < 220); from ${half.done} to ${end.done}: ` +
    `${end.rss >= half.rss ? '+' : ''}${(end.rss - half.rss).toFixed(1)} MB`)
}

/** The in-memory token store's own heap at `entries` entries, measured in a process of its own (store-memory.ts). */
export async function storeMemory (entries: number) {
  const child = fork(dist + 'bench/store-memory.js', [String(entries)],
    { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  await once(child, 'exit')
}
