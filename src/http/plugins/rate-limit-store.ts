import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { RedisUnavailable, type SharedRedis } from '../../redis/shared-redis.js'

type IncrCallback = (error: Error | null, result?: { current: number, ttl: number }) => void

const KEY_PREFIX = 'openim-gateway:rate-limit:'
// Bounds the fallback's memory: the least recently seen callers beyond this are forgotten.
const LOCAL_FALLBACK_KEYS = 10_000

// A fixed window per key: the first hit starts it, PTTL says how long it has left. A key somehow left
// without an expiry gets one, so no caller is limited forever.
const INCREMENT_LUA = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`

/** The same fixed windows in this replica's memory, for when Redis is unavailable. */
class MemoryWindows {
  private readonly windows = new Map<string, { current: number, endsAt: number }>()

  incr (key: string, timeWindow: number): { current: number, ttl: number } {
    const now = Date.now()
    let window = this.windows.get(key)
    if (window === undefined || window.endsAt <= now) window = { current: 0, endsAt: now + timeWindow }
    window.current += 1
    // Re-inserting keeps the Map in least-recently-seen order, so the oldest entry is the first one.
    this.windows.delete(key)
    this.windows.set(key, window)
    if (this.windows.size > LOCAL_FALLBACK_KEYS) this.windows.delete(this.windows.keys().next().value as string)
    return { current: window.current, ttl: window.endsAt - now }
  }
}

/**
 * A store for @fastify/rate-limit (its documented custom-store interface): counters in Redis, shared by
 * every replica. While Redis is unavailable (SharedRedis's breaker is open) the same limit is applied per
 * replica from memory, so an outage loosens the limit (by the replica count) instead of lifting it, and
 * no request waits on Redis.
 */
export function sharedRateLimitStore (redis: SharedRedis): FastifyRateLimitStoreCtor {
  const fallback = new MemoryWindows()
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    constructor (_options?: unknown, private readonly prefix = KEY_PREFIX) {}

    incr (key: string, callback: IncrCallback, timeWindow: number): void {
      const redisKey = this.prefix + key
      redis.run((client) => client.eval(INCREMENT_LUA, 1, redisKey, timeWindow) as Promise<[number, number]>).then(
        ([current, ttl]) => callback(null, { current, ttl }),
        (error) => {
          if (error instanceof RedisUnavailable) callback(null, fallback.incr(redisKey, timeWindow))
          else callback(error as Error)
        })
    }

    /** One counter namespace per route, as @fastify/rate-limit's own stores do. */
    child (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      return new SharedRateLimitStore(undefined, `${KEY_PREFIX}${String(routeOptions.method)}${routeOptions.url}:`)
    }
  }
}
