import { createRequire } from 'node:module'
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { Redis } from 'ioredis'

// @fastify/rate-limit's own stores (CommonJS, no type declarations): reused, not rewritten.
const require = createRequire(import.meta.url)
type IncrCallback = (error: Error | null, result?: { current: number, ttl: number }) => void
interface Store { incr (key: string, callback: IncrCallback, timeWindow: number, max: number): void }
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, prefix: string) => Store
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => Store

export interface LimiterHealth {
  /** Called on every store answer: true when Redis answered, false when the local fallback did. */
  report (redisAnswered: boolean, error?: Error): void
}

const KEY_PREFIX = 'openim-gateway:rate-limit:'
// Bounds the fallback's memory: the least recently seen callers beyond this are forgotten.
const LOCAL_FALLBACK_KEYS = 10_000

/**
 * Counters in Redis, shared by every replica. When Redis cannot answer, the same limit is applied per
 * replica from memory, so an outage loosens the limit (by the replica count) instead of lifting it, and
 * nothing waits on Redis; the next request after Redis returns uses it again.
 */
export function degradableRedisStore (redis: Redis, health: LimiterHealth): FastifyRateLimitStoreCtor {
  return class DegradableStore implements FastifyRateLimitStore {
    private readonly redisStore: Store
    private readonly localStore = new LocalStore(false, false, LOCAL_FALLBACK_KEYS)

    constructor (_options?: unknown, prefix = KEY_PREFIX) {
      this.redisStore = new RedisStore(false, false, redis, prefix)
    }

    incr (key: string, callback: IncrCallback, timeWindow: number, max: number): void {
      this.redisStore.incr(key, (error, result) => {
        health.report(error === null, error ?? undefined)
        if (error === null) callback(null, result)
        else this.localStore.incr(key, callback, timeWindow, max)
      }, timeWindow, max)
    }

    /** One counter namespace per route, as @fastify/rate-limit's own stores do. */
    child (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      return new DegradableStore(undefined, `${KEY_PREFIX}${String(routeOptions.method)}${routeOptions.url}:`)
    }
  }
}
