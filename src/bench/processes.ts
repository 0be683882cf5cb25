import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

// What every benchmark script needs to run the emulator and the gateway as processes of their own: one
// secret and API key per run, free ports, the emulator started and asked over IPC, and a wait for /healthz.

export const dist = new URL('../', import.meta.url).pathname
export const secret = randomBytes(16).toString('hex')
export const apiKey = randomBytes(18).toString('base64url')
/** Every process a benchmark started, stopped when it ends. */
export const children: ChildProcess[] = []

/** A BENCH_* setting: a non-negative number, or the fallback when unset. */
export function setting (name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`)
  return value
}

export async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/** A script of dist/ in its own process, once it has sent its `{ url }`. */
export async function startChild (script: string, env: Record<string, string>): Promise<{ child: ChildProcess, url: string }> {
  const child = fork(dist + script, [], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  children.push(child)
  const [message] = await once(child, 'message') as [{ url: string }]
  return { child, url: message.url }
}

/** The OpenIM emulator (bench/emulator-process.ts) with `latencyMs` per call. */
export const startEmulator = (latencyMs: number) =>
  startChild('bench/emulator-process.js', { OPENIM_SECRET: secret, OPENIM_EMULATOR_LATENCY_MS: String(latencyMs) })

let messageId = 0
/** A question to a child process over IPC, and its answer (matched by id). */
export async function ask<T> (child: ChildProcess, message: Record<string, unknown>): Promise<T> {
  const id = ++messageId
  child.send({ id, ...message })
  for (;;) {
    const [answer] = await once(child, 'message') as [{ id: number } & T]
    if (answer.id === id) return answer
  }
}

/** Waits for the gateway at `url` to answer /healthz (10 s at most). */
export async function untilHealthy (url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the gateway did not start')
}

/**
 * The Node flags `npm start` runs the gateway with (package.json's "start" script), so that what a benchmark
 * measures is what production runs: the heap cap, the heap-snapshot signal.
 */
export function startFlags (): string[] {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'))
}

/**
 * The settings a benchmark's gateway starts with: OpenIM at `openimUrl`, one API key, a rate limit no benchmark
 * reaches, loopback `port`; `env` adds or overrides settings.
 */
export function gatewayEnv (openimUrl: string, port: number, env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    OPENIM_API_URL: openimUrl,
    OPENIM_SECRET: secret,
    GATEWAY_API_KEYS: `bench:${apiKey}`,
    RATE_LIMIT_MAX: '1000000',
    HOST: '127.0.0.1',
    PORT: String(port),
    ...env
  }
}

/** Calls `onLine` with each whole line a child writes to its stdout (its JSON log lines). */
export function eachLine (child: ChildProcess, onLine: (line: string) => void) {
  let pending = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  })
}

export interface GatewayProcess { child: ChildProcess, pid: number, url: string }

/**
 * The gateway as `npm start` runs it (BENCH_GATEWAY: another build's dist/server.js), against the OpenIM at
 * `openimUrl`, with one API key and a rate limit no benchmark reaches; `env` adds or overrides settings.
 * Its logs go to /dev/null: written at info as in production, read by nobody.
 */
export async function startGateway (openimUrl: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<GatewayProcess> {
  const port = await freePort()
  const child = fork(process.env.BENCH_GATEWAY ?? dist + 'server.js', [], {
    execArgv: [...startFlags(), ...execArgv],
    env: gatewayEnv(openimUrl, port, env),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await untilHealthy(url)
  return { child, pid: child.pid!, url }
}

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0

/** A redis-server on a free loopback port, persisting nothing, stopped with the other children. */
export async function startRedisServer (): Promise<{ url: string, pid: number }> {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk) => { output += chunk })
  for (let attempt = 0; !output.includes('Ready to accept connections'); attempt++) {
    if (attempt === 250 || child.exitCode !== null) throw new Error(`redis-server did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid! }
}
