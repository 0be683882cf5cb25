import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeBrokenUsers, writeUsers } from './import-files.js'
import { apiKey, ask, children, dist, setting, startEmulator, startGateway } from './processes.js'

// `npm run bench:import`: BENCH_IMPORT_USERS (100,000) users in a CSV file through the import CLI, against the gateway
// as `npm start` runs it and the emulator with BENCH_OPENIM_LATENCY_MS (2 ms) per call, each in its own process:
// BENCH_IMPORT_RUNS (3) files of new users (the median is the figure), the last one again (every user exists), then
// the scenarios that must account for every record: a file with a broken quote, an over-limit row and a 100 MB line,
// and a run stopped with SIGINT halfway then resumed with the --from-line it printed. Reports records/s, OpenIM calls
// and CPU time per record, and the peak resident memory of the CLI and the gateway (Linux /proc VmHWM); the load
// average is printed with them, as the machine may be shared.
const USERS = setting('BENCH_IMPORT_USERS', 100_000)
const LATENCY_MS = setting('BENCH_OPENIM_LATENCY_MS', 2)
const CONCURRENCY = setting('BENCH_IMPORT_CONCURRENCY', 4)
const RUNS = Math.max(1, setting('BENCH_IMPORT_RUNS', 3))

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** Peak resident set size so far, in MB (VmHWM), or 0 when /proc cannot tell. */
async function peakMb (pid: number | undefined): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** CPU time (user + system) a process has used so far, in seconds, or 0 when /proc cannot tell. */
async function cpuSeconds (pid: number | undefined): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return 0
  }
}

const openimCalls = async (emulator: ChildProcess) => (await ask<{ calls: number }>(emulator, { type: 'calls' })).calls
const openimUsers = async (emulator: ChildProcess) => (await ask<{ users: number }>(emulator, { type: 'users' })).users
const load = () => loadavg().map((value) => value.toFixed(1)).join(', ')

interface Summary {
  records: number
  lines: number
  created: number
  existing: number
  failed: number
  notAttempted: number
  resumeFromLine: number | null
}

/**
 * Runs the CLI as `npm run import` does (64 MB heap) with --json, sampling its peak memory and CPU time until it
 * exits; `onErr` sees its stderr as it comes.
 */
async function runImport (gatewayUrl: string, file: string, args: string[] = [], onErr?: (text: string, cli: ChildProcess) => void) {
  const started = performance.now()
  const argv = ['--max-old-space-size=64', dist + 'cli/import.js', file, '--json', '--concurrency', String(CONCURRENCY), ...args]
  const cli = spawn(process.execPath, argv, {
    env: { PATH: process.env.PATH ?? '', GATEWAY_URL: gatewayUrl, GATEWAY_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  let errors = ''
  cli.stdout.on('data', (chunk) => { output += chunk })
  cli.stderr.on('data', (chunk) => {
    errors += chunk
    onErr?.(errors, cli)
  })
  let peak = 0
  let cpu = 0
  const sampler = setInterval(() => {
    void peakMb(cli.pid).then((mb) => { peak = Math.max(peak, mb) })
    void cpuSeconds(cli.pid).then((seconds) => { cpu = Math.max(cpu, seconds) })
  }, 50)
  const [code] = await once(cli, 'exit') as [number]
  clearInterval(sampler)
  let summary: Summary
  try {
    summary = JSON.parse(output)
  } catch {
    throw new Error(`the import CLI exited ${code} without its summary: ${output}${errors}`)
  }
  return { code, summary, errors, seconds: (performance.now() - started) / 1000, peak, cpu }
}

function check (condition: boolean, what: string) {
  if (!condition) throw new Error(`bench:import: ${what}`)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const dir = await mkdtemp(join(tmpdir(), 'bench-import-'))
try {
  const emulator = await startEmulator(LATENCY_MS)
  const gateway = await startGateway(emulator.url, { IMPORT_RATE_LIMIT_MAX: '1000000' })
  const gatewayStart = await peakMb(gateway.child.pid)
  console.log(`${USERS} users, OpenIM emulator with ${LATENCY_MS} ms per call, CLI concurrency ${CONCURRENCY} (batches of 1,000)`)
  console.log(`load average before: ${load()}`)
  console.log('| run | records/s | seconds | OpenIM calls/record | CLI CPU ms/1,000 records | gateway CPU ms/1,000 records | ' +
    'CLI peak MB | gateway peak MB |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  const newRates: number[] = []
  let lastFile = ''
  for (let run = 1; run <= RUNS + 1; run++) {
    const again = run > RUNS
    if (!again) {
      lastFile = join(dir, `users-${run}.csv`)
      await writeUsers(lastFile, USERS, `bench_${run}_`)
    }
    const callsBefore = await openimCalls(emulator.child)
    const gatewayCpuBefore = await cpuSeconds(gateway.child.pid)
    const result = await runImport(gateway.url, lastFile)
    check(result.code === 0 && result.summary[again ? 'existing' : 'created'] === USERS, `run ${run}: ${JSON.stringify(result.summary)}`)
    const calls = (await openimCalls(emulator.child)) - callsBefore
    const gatewayCpu = (await cpuSeconds(gateway.child.pid)) - gatewayCpuBefore
    const rate = USERS / result.seconds
    if (!again) newRates.push(rate)
    console.log(`| ${again ? 're-run (all existing)' : `new users ${run}`} | ${Math.round(rate)} | ${result.seconds.toFixed(1)} | ` +
      `${(calls / USERS).toFixed(4)} | ${(result.cpu * 1e6 / USERS).toFixed(0)} | ${(gatewayCpu * 1e6 / USERS).toFixed(0)} | ` +
      `${result.peak.toFixed(0)} | ${(await peakMb(gateway.child.pid)).toFixed(0)} |`)
  }
  console.log(`new users, median of ${RUNS}: ${Math.round(median(newRates))} records/s (load average after: ${load()})`)
  console.log(`gateway resident memory at start: ${gatewayStart.toFixed(0)} MB`)

  // A broken quote, an over-limit row and a 100 MB line: exactly those three fail, at their lines; the rest is imported.
  const brokenFile = join(dir, 'broken.csv')
  const bad = await writeBrokenUsers(brokenFile, USERS, 'broken_')
  const failuresFile = join(dir, 'broken-failures.ndjson')
  const broken = await runImport(gateway.url, brokenFile, ['--failures', failuresFile])
  const failed = (await readFile(failuresFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { line: number, code: string })
  const failedLines = failed.map(({ line }) => line)
  const expected = [bad.brokenQuoteLine, bad.overLimitLine, bad.hugeLine]
  check(broken.code === 1 && broken.summary.created === USERS - 3 && broken.summary.records === USERS && `${failedLines}` === `${expected}`,
    `broken file: exit ${broken.code}, ${JSON.stringify(broken.summary)}, failed lines ${failedLines.join(', ')}`)
  console.log(`\nbroken file (a quote left open on line ${bad.brokenQuoteLine}, a 40,000-character ex on line ${bad.overLimitLine}, ` +
    `100 MB on line ${bad.hugeLine}): exit ${broken.code}, ${broken.summary.created} created, failed ` +
    `${failed.map(({ line, code }) => `${line} ${code}`).join(', ')}; ${broken.seconds.toFixed(1)} s, ` +
    `CLI peak ${broken.peak.toFixed(0)} MB`)

  // SIGINT halfway through, then the --from-line it printed: every user imported, none created twice.
  const resumeFile = join(dir, 'resume.csv')
  await writeUsers(resumeFile, USERS, 'resume_')
  const usersBefore = await openimUsers(emulator.child)
  let signalled = false
  const interrupted = await runImport(gateway.url, resumeFile, ['--progress-interval', '0.1'], (errors, cli) => {
    const records = Number([...errors.matchAll(/progress: (\d+) records/g)].at(-1)?.[1] ?? 0)
    if (!signalled && records >= USERS / 2) {
      signalled = true
      cli.kill('SIGINT')
    }
  })
  const from = interrupted.summary.resumeFromLine
  check(interrupted.code === 130 && from !== null, `interrupted run: exit ${interrupted.code}, ${JSON.stringify(interrupted.summary)}`)
  const resumed = await runImport(gateway.url, resumeFile, ['--from-line', String(from)])
  const imported = (await openimUsers(emulator.child)) - usersBefore
  check(resumed.code === 0 && imported === USERS && interrupted.summary.created + resumed.summary.created === USERS,
    `resumed run: exit ${resumed.code}, ${JSON.stringify(resumed.summary)}, ${imported} users imported`)
  console.log(`\ninterrupted with SIGINT at ${interrupted.summary.records} records: exit ${interrupted.code}, ` +
    `${interrupted.summary.created} created, ${interrupted.summary.notAttempted} not attempted, resume from line ${from}; ` +
    `resumed: exit ${resumed.code}, ${resumed.summary.records} records, ${resumed.summary.created} created, ` +
    `${resumed.summary.existing} existing (sent again); ${imported} users imported in all, ` +
    `CLI peak ${Math.max(interrupted.peak, resumed.peak).toFixed(0)} MB`)
  console.log(`load average at the end: ${load()}`)
} finally {
  for (const child of children) child.kill('SIGTERM')
  await rm(dir, { recursive: true, force: true })
}
