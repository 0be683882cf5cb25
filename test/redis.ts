import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { loadConfig, type RedisConnectionSettings } from '../src/config/index.js'
import {
  startRedisCluster, startSentinelSet, startStandalone, type RedisClusterServers, type RedisNode, type SentinelSet, type ServerTls
} from '../src/bench/redis-servers.js'

// Real redis-server processes for the tests, started per test file on free loopback ports (src/bench/redis-servers.ts
// also serves `npm run bench:reliability`), stopped when the test ends.

interface TestLike { teardown (fn: () => unknown): void, skip (...args: any[]): unknown }

export interface RedisServer { url: string, node: RedisNode, stop (): Promise<void>, start (): Promise<void> }
export type { RedisClusterServers, RedisNode, SentinelSet } from '../src/bench/redis-servers.js'

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0

/** Says loudly why Redis tests are skipped; under CI a missing redis-server fails instead (.ci/run installs it). */
export function skipWithoutRedis (t: TestLike): boolean {
  if (hasRedisServer) return false
  const message = 'redis-server (or redis-cli) is not installed: the Redis tests are SKIPPED (apt-get install -y redis-server)'
  if (process.env.CI !== undefined) throw new Error(`${message}; CI must run them`)
  console.error(`\n!!! ${message}\n`)
  t.skip(message)
  return true
}

/** The Redis settings the gateway reads from these variables (REDIS_URL, or REDIS_SENTINELS and the rest). */
export function redisSettings (env: Record<string, string>): RedisConnectionSettings {
  const config = loadConfig({ OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: 'unused-here', AUTH_DISABLED: 'true', ...env })
  if (config.redis === undefined) throw new Error('no Redis in these settings')
  return config.redis
}

/** The test CA, and the server and client certificates it signed (test/fixtures/redis-tls/). */
export const TLS_FILES = Object.fromEntries(['ca', 'server', 'server-key', 'client', 'client-key']
  .map((name) => [name, new URL(`fixtures/redis-tls/${name}.pem`, import.meta.url).pathname])) as Record<'ca' | 'server' | 'server-key' | 'client' | 'client-key', string>

/**
 * A real redis-server on a free loopback port, with nothing persisted, stopped when the test ends; `args` are
 * more of its command-line settings (`['--rename-command', 'EVAL', '']`); with `tls`, it speaks TLS only.
 */
export async function startRedis (t: TestLike, args: string[] = [], tls?: ServerTls): Promise<RedisServer> {
  const server = await startStandalone(args, tls)
  t.teardown(() => server.close())
  return { url: server.url, node: server.node, stop: () => server.node.stop(), start: () => server.node.start() }
}

/** A primary, a replica and three sentinels (down-after-milliseconds 1000); `env` holds REDIS_SENTINELS and REDIS_SENTINEL_MASTER. */
export async function startSentinel (t: TestLike): Promise<SentinelSet> {
  const set = await startSentinelSet({ downAfterMs: 1000 })
  t.teardown(() => set.close())
  return set
}

/** Three primaries and three replicas (cluster-node-timeout 2000); `env` holds REDIS_CLUSTER_NODES. */
export async function startCluster (t: TestLike): Promise<RedisClusterServers> {
  const cluster = await startRedisCluster({ nodeTimeoutMs: 2000 })
  t.teardown(() => cluster.close())
  return cluster
}

export interface DelayingProxy {
  url: string
  /**
   * Holds back what the server sends, from the first command that contains `trigger` on, for `ms`: that reply
   * (and any after it, kept in order) arrives late, as from a paused Redis or a congested link. Resolves when
   * the held replies have been let through.
   */
  holdReplyTo (trigger: string, ms: number): Promise<void>
  /** Commands seen from clients: the arguments of each, and the chunk it came in (commands of one chunk were pipelined). */
  readonly commands: Array<{ args: string[], chunk: number }>
}

/** Reads RESP commands (arrays of bulk strings) out of a client's stream, however it is cut into chunks. */
class CommandReader {
  private buffer = Buffer.alloc(0)
  read (chunk: Buffer): string[][] {
    this.buffer = Buffer.concat([this.buffer, chunk])
    const commands: string[][] = []
    for (;;) {
      const command = this.next()
      if (command === undefined) return commands
      commands.push(command)
    }
  }

  private next (): string[] | undefined {
    let at = 0
    const line = () => {
      const end = this.buffer.indexOf('\r\n', at)
      if (end < 0) return undefined
      const text = this.buffer.toString('latin1', at, end)
      at = end + 2
      return text
    }
    const header = line()
    if (header === undefined || !header.startsWith('*')) return undefined
    const args: string[] = []
    for (let i = 0; i < Number(header.slice(1)); i++) {
      const length = Number(line()?.slice(1))
      if (!Number.isFinite(length) || this.buffer.length < at + length + 2) return undefined
      args.push(this.buffer.toString('latin1', at, at + length))
      at += length + 2
    }
    this.buffer = this.buffer.subarray(at)
    return args
  }
}

/** A TCP proxy in front of `target` (host:port), closed when the test ends. */
export async function startDelayingProxy (t: TestLike, target: { host: string, port: number }): Promise<DelayingProxy> {
  let pending: { trigger: string, ms: number, done: () => void } | undefined
  const commands: DelayingProxy['commands'] = []
  let chunks = 0
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    sockets.add(client).add(upstream)
    let heldUntil = 0
    const queue: Buffer[] = []
    let flushing: NodeJS.Timeout | undefined
    const reader = new CommandReader()
    const flush = () => {
      flushing = undefined
      for (const chunk of queue.splice(0)) client.write(chunk)
    }
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1')
      const chunkNumber = ++chunks
      for (const args of reader.read(chunk)) commands.push({ args, chunk: chunkNumber })
      if (pending !== undefined && text.includes(pending.trigger)) {
        const { ms, done } = pending
        pending = undefined
        heldUntil = Date.now() + ms
        setTimeout(done, ms + 50)
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (Date.now() >= heldUntil && queue.length === 0) {
        client.write(chunk)
        return
      }
      queue.push(chunk)
      flushing ??= setTimeout(flush, Math.max(0, heldUntil - Date.now()))
    })
    const close = () => {
      clearTimeout(flushing)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    commands,
    holdReplyTo: (trigger, ms) => new Promise((resolve) => { pending = { trigger, ms, done: resolve } })
  }
}
