import type { Result } from 'autocannon'

// The figures `npm run bench` prints: one sample per run of a fixed number of requests, the median over rounds,
// Markdown tables with the load average each figure was measured under.

export interface Sample {
  /** The process's CPU time over the sample, per request answered. */
  cpuMicroseconds: number
  perSecond: number
  p50: number
  p99: number
  /** OpenIM calls per request, counted by the emulator (the floor and gateway must make the same ones). */
  calls: number
  failures: number
  /** The one-minute load average when the sample started. */
  load: number
}

export function sample (result: Result, cpuMicroseconds: number, calls: number, load: number): Sample {
  const answered = result['2xx']
  return {
    cpuMicroseconds: answered === 0 ? Number.NaN : cpuMicroseconds / answered,
    perSecond: answered / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    calls: answered === 0 ? 0 : calls / answered,
    failures: result.non2xx + result.errors + result.timeouts,
    load
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const range = (values: number[], digits = 0) =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`

export const loadRange = (samples: Sample[]) => range(samples.map((one) => one.load), 1)

export interface Comparison { path: string, gateway: Sample[], floor: Sample[] }

/** The headline: CPU per request against the floor that makes the same OpenIM calls, medians over the rounds. */
export function cpuTable (title: string, rows: Comparison[]) {
  // BENCH_ONLY may have left out every gateway run of the table.
  if (rows.length === 0) return
  const everything = rows.flatMap((row) => [...row.gateway, ...row.floor])
  console.log(`\n${title} (median of ${rows[0]?.gateway.length ?? 0} rounds; load average ${loadRange(everything)})`)
  console.log('| path | gateway µs/req | floor µs/req | ratio |')
  console.log('|---|---:|---:|---:|')
  for (const row of rows) {
    const gateway = median(row.gateway.map((one) => one.cpuMicroseconds))
    const floor = median(row.floor.map((one) => one.cpuMicroseconds))
    console.log(`| ${row.path} | ${gateway.toFixed(0)} | ${floor.toFixed(0)} | **${(gateway / floor).toFixed(2)}** |`)
  }
}

/** Every run's secondary figures: the spread of its CPU per request, throughput, latency, calls, failures. */
export function detailTable (title: string, runs: Array<[string, Sample[]]>) {
  console.log(`\n${title}`)
  console.log('| run | µs/req (rounds) | requests/s | p50 ms | p99 ms | OpenIM calls/req | failed | load average |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const [name, samples] of runs) {
    const mid = (pick: (one: Sample) => number) => median(samples.map(pick))
    const rounds = samples.map((one) => one.cpuMicroseconds.toFixed(0)).join(', ')
    console.log(`| ${name} | ${rounds} | ${mid((one) => one.perSecond).toFixed(0)} | ` +
      `${mid((one) => one.p50).toFixed(1)} | ${mid((one) => one.p99).toFixed(1)} | ${mid((one) => one.calls).toFixed(2)} | ` +
      `${samples.reduce((sum, one) => sum + one.failures, 0)} | ${loadRange(samples)} |`)
  }
}
