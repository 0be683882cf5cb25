import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

interface TestLike { teardown (fn: () => unknown): void, skip (...args: any[]): unknown }

export interface RedisServer { url: string, stop (): Promise<void>, start (): Promise<void> }

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0

/** Says loudly why Redis tests are skipped; under CI a missing redis-server fails instead (.ci/run installs it). */
export function skipWithoutRedis (t: TestLike): boolean {
  if (hasRedisServer) return false
  const message = 'redis-server is not installed: the Redis tests are SKIPPED (apt-get install -y redis-server)'
  if (process.env.CI !== undefined) throw new Error(`${message}; CI must run them`)
  console.error(`\n!!! ${message}\n`)
  t.skip(message)
  return true
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/**
 * A real redis-server on a free loopback port, with nothing persisted, stopped when the test ends; `args` are
 * more of its command-line settings (`['--rename-command', 'EVAL', '']`).
 */
export async function startRedis (t: TestLike, args: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout?.on('data', (chunk) => { output += chunk })
    const deadline = Date.now() + 5000
    while (!output.includes('Ready to accept connections')) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${output}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const stop = async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(stop)
  return { url: `redis://127.0.0.1:${port}`, stop, start }
}
