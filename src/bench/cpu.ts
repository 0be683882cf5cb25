import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

// What `npm run bench` reports first: the CPU time a process spent, which a machine shared with other work does
// not distort the way it distorts requests per second (those move ±40 % between runs there; CPU time per
// request holds within a few per cent). Linux only: read from /proc.

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * User + system CPU time of process `pid` so far, in µs: every thread's (the event loop, GC helpers, libuv's
 * pool), as /proc/<pid>/stat counts them. The kernel scales the ticks to the scheduler's exact runtime, so over
 * the seconds a sample lasts the tick's 10 ms granularity is a fraction of a per cent.
 */
export function cpuMicroseconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'; utime and stime are
  // fields 14 and 15, so 11 and 12 after the state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND * 1e6
}

/** The machine's one-minute load average: printed with every figure, as what the figure was measured under. */
export const loadAverage = (): number => loadavg()[0] ?? 0
