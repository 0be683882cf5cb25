import type { Result } from 'autocannon'

// The figures `npm run bench` prints: one row per run, means over rounds, Markdown tables.

export interface Figures { name: string, provisions: number, perSecond: number, p50: number, p99: number, callsPerProvision: number, failures: number }

export function figures (name: string, result: Result, calls: number, provisionsPerRequest = 1, latencyFactor = 1): Figures {
  const provisions = result['2xx'] / provisionsPerRequest
  return {
    name,
    provisions,
    perSecond: provisions / result.duration,
    p50: result.latency.p50 * latencyFactor,
    p99: result.latency.p99 * latencyFactor,
    callsPerProvision: provisions === 0 ? 0 : calls / provisions,
    failures: result.non2xx + result.errors + result.timeouts
  }
}

export const mean = (rows: Figures[], name: string): Figures => {
  const mine = rows.filter((row) => row.name === name)
  const avg = (pick: (row: Figures) => number) => mine.reduce((sum, row) => sum + pick(row), 0) / mine.length
  return { name, provisions: avg((r) => r.provisions), perSecond: avg((r) => r.perSecond), p50: avg((r) => r.p50), p99: avg((r) => r.p99), callsPerProvision: avg((r) => r.callsPerProvision), failures: avg((r) => r.failures) }
}

export function table (title: string, rows: Figures[]) {
  console.log(`\n${title}`)
  console.log('| run | provisions/s | p50 ms | p99 ms | OpenIM calls/provision | failed |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const row of rows) {
    console.log(`| ${row.name} | ${row.perSecond.toFixed(0)} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.callsPerProvision.toFixed(2)} | ${row.failures} |`)
  }
}
