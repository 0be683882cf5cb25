import { Redis } from 'ioredis'

/** How long one Redis command may take before Redis counts as unavailable (and the breaker opens). */
export const REDIS_COMMAND_TIMEOUT_MS = 500

/**
 * The gateway's Redis client. It never queues a command while disconnected and never retries one, so a
 * command fails within REDIS_COMMAND_TIMEOUT_MS at worst; the breaker (shared-redis.ts) makes sure only
 * the first one pays that. It reconnects in the background, at most every 2 s, for as long as it lives.
 */
export function createRedisClient (url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000)
  })
  // ioredis emits 'error' on every failed reconnect; the breaker reports the state change once instead.
  client.on('error', () => {})
  return client
}

/** The URL without its password, for logs. */
export function redactedUrl (url: string): string {
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = 'redacted'
  return parsed.toString()
}
