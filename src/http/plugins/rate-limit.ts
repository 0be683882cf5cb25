import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Config } from '../../config/index.js'
import { GatewayError } from '../../errors.js'
import { callerLabel } from '../auth.js'
import { degradableRedisStore } from './rate-limit-store.js'

/**
 * Per-caller limits on the routes registered after it in the same scope (/provision and /revoke share one
 * budget), keyed by the API key's name or the JWT user, else the client IP. Registered after
 * authentication, whose hook must have named the caller.
 */
export async function registerRateLimit (scope: FastifyInstance, app: FastifyInstance, { rateLimit }: Config) {
  const store = rateLimit.redisUrl === undefined ? undefined : degradableRedisStore(await connectRedis(app, rateLimit.redisUrl), limiterHealth(app))
  await scope.register(fastifyRateLimit, {
    max: rateLimit.max,
    timeWindow: rateLimit.windowMs,
    ...(store !== undefined && { store }),
    keyGenerator: (request) => request.caller?.kind === 'anonymous' ? `ip:${request.ip}` : callerLabel(request.caller) ?? `ip:${request.ip}`,
    onExceeded: (request) => {
      app.metrics.rateLimitRejections.inc({ route: request.routeOptions.url ?? 'unmatched' })
      request.log.warn({ caller: callerLabel(request.caller) }, 'rate limit exceeded')
    },
    errorResponseBuilder: (_request, context) =>
      new GatewayError(429, 'RATE_LIMITED', `rate limit exceeded: ${context.max} requests per ${context.after === '' ? 'window' : 'window; retry in ' + context.after}`)
  })
}

const STARTUP_WAIT_MS = 2000

/** Connects, waiting a little for the first connection so the first requests already share counters. */
async function connectRedis (app: FastifyInstance, url: string): Promise<Redis> {
  const redis = new Redis(url, {
    // Fail fast instead of queueing while Redis is away: the limiter falls back to memory at once.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 2000,
    // Keep trying in the background, at most every 2 s, for as long as the gateway runs.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000)
  })
  // ioredis emits 'error' on every failed reconnect; the limiter's health reports the state change once.
  redis.on('error', () => {})
  app.addHook('onClose', async () => { redis.disconnect() })
  const ready = await Promise.race([
    once(redis, 'ready').then(() => true),
    sleep(STARTUP_WAIT_MS, false, { ref: false })
  ])
  if (!ready) app.log.error({ redis: redactedUrl(url) }, 'Redis is not reachable yet: rate limits are per replica until it is')
  return redis
}

/** The URL without its password, for logs. */
function redactedUrl (url: string): string {
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = 'redacted'
  return parsed.toString()
}

function limiterHealth (app: FastifyInstance) {
  let degraded = false
  return {
    report (redisAnswered: boolean, error?: Error) {
      if (redisAnswered === !degraded) return
      degraded = !redisAnswered
      app.metrics.rateLimitDegraded.set(degraded ? 1 : 0)
      if (degraded) app.log.error({ reason: error?.message }, 'rate limiter degraded: Redis is unreachable, limiting per replica from memory')
      else app.log.warn('rate limiter recovered: Redis answers again, limits are shared across replicas')
    }
  }
}
