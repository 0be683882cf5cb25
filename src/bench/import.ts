import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKey, ask, children, dist, freePort, secret, setting, startEmulator, untilHealthy } from './processes.js'

// `npm run bench:import`: BENCH_IMPORT_USERS (100,000) users in a CSV file through the import CLI, against
// the gateway as `npm start` runs it and the emulator with BENCH_OPENIM_LATENCY_MS (2 ms) per call, each in
// its own process. Then the same file again (every user exists). Reports users/s, OpenIM calls per user and
// the peak resident memory of the CLI and the gateway (Linux /proc VmHWM).
const USERS = setting('BENCH_IMPORT_USERS', 100_000)
const LATENCY_MS = setting('BENCH_OPENIM_LATENCY_MS', 2)
const CONCURRENCY = setting('BENCH_IMPORT_CONCURRENCY', 4)

/** Peak resident set size so far, in MB (VmHWM), or 0 when /proc cannot tell. */
async function peakMb (pid: number | undefined): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

const openimCalls = async (emulator: ChildProcess) => (await ask<{ calls: number }>(emulator, { type: 'calls' })).calls

async function startGateway (openimUrl: string): Promise<{ child: ChildProcess, url: string }> {
  const port = await freePort()
  const child = fork(dist + 'server.js', [], {
    execArgv: ['--max-old-space-size=128'], // as `npm start` and the image run it
    env: {
      PATH: process.env.PATH ?? '',
      OPENIM_API_URL: openimUrl,
      OPENIM_SECRET: secret,
      GATEWAY_API_KEYS: `bench:${apiKey}`,
      IMPORT_RATE_LIMIT_MAX: '1000000',
      HOST: '127.0.0.1',
      PORT: String(port)
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await untilHealthy(url)
  return { child, url }
}

async function writeUsers (path: string) {
  const file = createWriteStream(path)
  file.write('userID,nickname,faceURL,ex\n')
  for (let i = 0; i < USERS; i++) {
    if (!file.write(`bench_user_${i},Bench User ${i},https://cdn.example.com/avatars/${i}.png,\n`)) await once(file, 'drain')
  }
  file.end()
  await once(file, 'close')
}

/** Runs the CLI as users do, sampling its peak memory until it exits. */
async function runImport (gatewayUrl: string, file: string) {
  const started = performance.now()
  // As `npm run import` runs it (see package.json), so the memory figure is what users get.
  const cli = spawn(process.execPath, ['--max-old-space-size=64', dist + 'cli/import.js', file, '--concurrency', String(CONCURRENCY)], {
    env: { PATH: process.env.PATH ?? '', GATEWAY_URL: gatewayUrl, GATEWAY_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  cli.stdout.on('data', (chunk) => { output += chunk })
  let cliPeak = 0
  const sampler = setInterval(() => { void peakMb(cli.pid).then((mb) => { cliPeak = Math.max(cliPeak, mb) }) }, 50)
  const [code] = await once(cli, 'exit')
  clearInterval(sampler)
  if (code !== 0) throw new Error(`the import CLI exited ${code}: ${output}`)
  return { seconds: (performance.now() - started) / 1000, cliPeak, summary: output.trim().split('\n')[0] }
}

const dir = await mkdtemp(join(tmpdir(), 'bench-import-'))
try {
  const file = join(dir, 'users.csv')
  await writeUsers(file)
  const emulator = await startEmulator(LATENCY_MS)
  const gateway = await startGateway(emulator.url)
  const gatewayStart = await peakMb(gateway.child.pid)
  console.log(`${USERS} users, OpenIM emulator with ${LATENCY_MS} ms per call, CLI concurrency ${CONCURRENCY} (batches of 1,000)`)
  console.log('| run | users/s | seconds | OpenIM calls/user | CLI peak MB | gateway peak MB |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const run of ['new users', 're-run (all existing)']) {
    const callsBefore = await openimCalls(emulator.child)
    const result = await runImport(gateway.url, file)
    const calls = (await openimCalls(emulator.child)) - callsBefore
    console.log(`| ${run} | ${Math.round(USERS / result.seconds)} | ${result.seconds.toFixed(1)} | ${(calls / USERS).toFixed(4)} | ` +
      `${result.cliPeak.toFixed(0)} | ${(await peakMb(gateway.child.pid)).toFixed(0)} |`)
    console.log(`  CLI: ${result.summary}`)
  }
  console.log(`gateway resident memory at start: ${gatewayStart.toFixed(0)} MB`)
} finally {
  for (const child of children) child.kill('SIGTERM')
  await rm(dir, { recursive: true, force: true })
}
