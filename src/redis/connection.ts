import type { ConnectionOptions } from 'node:tls'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisConnectionSettings, RedisTopology } from '../config/index.js'

/** A connection to the shared Redis, whatever its topology: ioredis's own Redis (standalone, Sentinel) or Cluster. */
export type RedisClient = Redis | Cluster

// Reconnects (and, behind Sentinel, asks the sentinels again) at most every 2 s, for as long as the client lives.
const retryDelay = (attempt: number) => Math.min(attempt * 100, 2000)
const CONNECT_TIMEOUT_MS = 2000

export function tlsOptions (settings: RedisConnectionSettings): ConnectionOptions | undefined {
  const { tls } = settings
  if (tls === undefined) return undefined
  return {
    ...(tls.ca !== undefined && { ca: tls.ca }),
    ...(tls.cert !== undefined && { cert: tls.cert, key: tls.key }),
    ...(tls.servername !== undefined && { servername: tls.servername })
  }
}

/**
 * What every connection shares: it never queues a command while disconnected and never retries one, so a
 * command fails within the command timeout at worst; the breaker (shared-redis.ts) makes sure only the first
 * one pays that.
 */
export function nodeOptions (settings: RedisConnectionSettings): RedisOptions {
  return {
    username: settings.username,
    password: settings.password,
    tls: tlsOptions(settings),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: Math.max(CONNECT_TIMEOUT_MS, settings.commandTimeoutMs)
  }
}

/**
 * The gateway's Redis client for the configured topology, through ioredis's own support for each:
 * - standalone: one server;
 * - Sentinel: the primary the sentinels name, found again after a failover (the sentinels' +switch-master,
 *   ioredis's failoverDetector) and left as soon as it answers READONLY (a demoted primary);
 * - Cluster: every primary, each key sent to its slot's node; a command meeting a closed connection or a
 *   cluster that is down fails rather than being sent again (the breaker takes over), while MOVED and ASK
 *   redirections are followed.
 */
export function createRedisClient (settings: RedisConnectionSettings, { retry = true } = {}): RedisClient {
  const { topology } = settings
  const node = nodeOptions(settings)
  // Without retries (npm run doctor): one attempt, whose failure is the answer.
  const reconnectDelay = retry ? retryDelay : () => null
  if (topology.kind === 'cluster') {
    return new Cluster(topology.nodes, {
      redisOptions: node,
      // Not false: with it ioredis refuses a command at once ("Connection is closed.") while the connection to its
      // slot's node is still being opened, the first time that node is used; each node then queues the command
      // and its command timeout runs, and SharedRedis bounds the wait for the Cluster itself (its slot map).
      enableOfflineQueue: true,
      clusterRetryStrategy: reconnectDelay,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: Math.max(1000, settings.commandTimeoutMs),
      // A replica that took over is found within this, or at once by the breaker's probe (refreshSlotsCache).
      slotsRefreshInterval: 2000
    })
  }
  const common: RedisOptions = { ...node, db: settings.db, retryStrategy: reconnectDelay }
  if (topology.kind === 'standalone') return new Redis({ ...common, host: topology.address.host, port: topology.address.port })
  return new Redis({
    ...common,
    sentinels: topology.sentinels,
    name: topology.masterName,
    sentinelUsername: topology.sentinelUsername,
    sentinelPassword: topology.sentinelPassword,
    sentinelTLS: common.tls,
    enableTLSForSentinelMode: common.tls !== undefined,
    sentinelCommandTimeout: settings.commandTimeoutMs,
    sentinelRetryStrategy: reconnectDelay,
    sentinelReconnectStrategy: reconnectDelay,
    failoverDetector: true,
    // READONLY behind Sentinel: this is a primary that was demoted; reconnect through the sentinels.
    reconnectOnError: (error) => /^READONLY\b/.test(error.message) ? 1 : false
  })
}

/** Where Redis is, for logs and reports: no credential. */
export function describeRedis (settings: RedisConnectionSettings): string {
  return describeTopology(settings.topology, settings.tls !== undefined, settings.db)
}

function describeTopology (topology: RedisTopology, tls: boolean, db: number): string {
  const list = (addresses: Array<{ host: string, port: number }>) =>
    addresses.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',')
  const over = tls ? ' over TLS' : ''
  switch (topology.kind) {
    case 'standalone': return `${tls ? 'rediss' : 'redis'}://${list([topology.address])}/${db}`
    case 'sentinel': return `the primary "${topology.masterName}" of sentinels ${list(topology.sentinels)}${over} (database ${db})`
    case 'cluster': return `the cluster of ${list(topology.nodes)}${over}`
  }
}
