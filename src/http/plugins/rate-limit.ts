import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config/index.js'
import { GatewayError } from '../../errors.js'
import type { SharedRedis } from '../../redis/shared-redis.js'
import { callerLabel } from '../auth.js'
import { sharedRateLimitStore } from './rate-limit-store.js'

/**
 * Per-caller limits on the routes registered after it in the same scope (/provision, /revoke and GET/PATCH
 * /users/{userID} share one budget; imports set their own), keyed by the API key's name or the JWT user, else the client IP. Registered after
 * authentication, whose hook must have named the caller. With Redis the counters are shared by every replica.
 */
export async function registerRateLimit (scope: FastifyInstance, app: FastifyInstance, { rateLimit }: Config, redis: SharedRedis | undefined) {
  await scope.register(fastifyRateLimit, {
    max: rateLimit.max,
    timeWindow: rateLimit.windowMs,
    ...(redis !== undefined && { store: sharedRateLimitStore(redis, app.log) }),
    keyGenerator: (request) => request.caller?.kind === 'anonymous' ? `ip:${request.ip}` : callerLabel(request.caller) ?? `ip:${request.ip}`,
    onExceeded: (request) => {
      app.metrics.rateLimitRejections.inc({ route: request.routeOptions.url ?? 'unmatched' })
      request.log.warn({ caller: callerLabel(request.caller) }, 'rate limit exceeded')
    },
    errorResponseBuilder: (_request, context) =>
      new GatewayError(429, 'RATE_LIMITED', `rate limit exceeded: ${context.max} requests per ${context.after === '' ? 'window' : 'window; retry in ' + context.after}`)
  })
}
