import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { checkKey } from '../../redis/key-names.js'
import { redisErrorText } from '../../redis/replies.js'
import { RedisUnavailable, type RedisCheck, type SharedRedis } from '../../redis/shared-redis.js'

type IncrCallback = (error: Error | null, result?: { current: number, ttl: number }) => void

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

/** The script on a key of its own that expires within a second: whether this Redis lets the gateway run it. */
export const rateLimitRedisCheck: RedisCheck = {
  what: 'the rate limiter\'s script',
  run: (client) => client.eval(INCREMENT_LUA, 1, checkKey('rate'), 1000)
}

/** The script's reply, checked: anything else (a proxy in between that answers oddly) is an error, counted from memory. */
function counted (reply: unknown): [number, number] {
  if (Array.isArray(reply) && reply.length === 2 && reply.every((value) => Number.isSafeInteger(value))) return reply as [number, number]
  throw new Error('unexpected reply to the rate limiter\'s script')
}

// A command error Redis keeps giving (a key of another type under our prefix) is told once a minute, not per request.
const WARN_EVERY_MS = 60_000

export interface WarnLogger { warn (details: object, message: string): void }

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
 * every replica, under key names that say nothing about the caller (src/redis/key-names.ts: the caller's
 * name, userID or address is only ever an HMAC's input). While Redis is unavailable (SharedRedis's breaker is
 * open) the same limit is applied per replica from memory, so an outage loosens the limit (by the replica count) instead of lifting it, and
 * no request waits on Redis. Any other Redis error falls back the same way for that request: never a 500.
 */
export function sharedRateLimitStore (redis: SharedRedis, log: WarnLogger): FastifyRateLimitStoreCtor {
  const fallback = new MemoryWindows()
  let warnedAt = Number.NEGATIVE_INFINITY
  let unwarned = 0
  const warn = (error: unknown) => {
    unwarned++
    if (performance.now() - warnedAt < WARN_EVERY_MS) return
    log.warn({ reason: redisErrorText(error), requests: unwarned },
      'Redis refused the rate limiter\'s command: those requests were counted in this replica')
    warnedAt = performance.now()
    unwarned = 0
  }
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    constructor (_options?: unknown, private readonly scope = '') {}

    incr (key: string, callback: IncrCallback, timeWindow: number): void {
      const redisKey = redis.keys.rateLimit(this.scope, key)
      redis.run((client) => client.eval(INCREMENT_LUA, 1, redisKey, timeWindow)).then(counted).then(
        ([current, ttl]) => callback(null, { current, ttl }),
        (error) => {
          if (!(error instanceof RedisUnavailable)) warn(error)
          callback(null, fallback.incr(redisKey, timeWindow))
        })
    }

    /**
     * One counter namespace per route with limits of its own, as @fastify/rate-limit's own stores do: the plugin
     * hands over its merged options, the route under `routeInfo`.
     */
    child (options: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const route = (options as { routeInfo?: { method?: unknown, url?: unknown } }).routeInfo
      return new SharedRateLimitStore(undefined, `${String(route?.method)}${String(route?.url)}`)
    }
  }
}
