import { spawnSync } from 'node:child_process'
import { loadConfig, type RedisConnectionSettings } from '../src/config/index.js'
import { startDelayingProxy as startProxy, type DelayingProxy } from '../src/bench/delaying-proxy.js'
import {
  startRedisCluster, startSentinelSet, startStandalone, type RedisClusterServers, type RedisNode, type SentinelSet, type ServerTls
} from '../src/bench/redis-servers.js'

// Real redis-server processes for the tests, started per test file on free loopback ports (src/bench/redis-servers.ts
// also serves `npm run bench:reliability`), stopped when the test ends.

interface TestLike { teardown (fn: () => unknown): void, skip (...args: any[]): unknown }

export interface RedisServer { url: string, node: RedisNode, stop (): Promise<void>, start (): Promise<void> }
export type { RedisClusterServers, RedisNode, SentinelSet } from '../src/bench/redis-servers.js'
export type { DelayingProxy } from '../src/bench/delaying-proxy.js'

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

/** A delaying, command-reading TCP proxy in front of `target` (src/bench/delaying-proxy.ts), closed when the test ends. */
export async function startDelayingProxy (t: TestLike, target: { host: string, port: number }): Promise<DelayingProxy> {
  const proxy = await startProxy(target)
  t.teardown(() => proxy.close())
  return proxy
}
