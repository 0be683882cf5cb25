import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError } from '../../errors.js'
import { callerLabel } from '../auth.js'
import { sharedRateLimitStore } from './rate-limit-store.js'

/**
 * Per-caller limits on the routes registered after it in the same scope (/provision, /revoke and GET/PATCH
 * /users/{userID} share one budget; imports set their own), keyed by the API key's name or the JWT user, else
 * the client IP: so after authentication, whose hook names the caller. With Redis the counters are shared by
 * every replica.
 */
async function rateLimit (scope: FastifyInstance) {
  const { config: { rateLimit: limits }, redis, metrics } = scope
  await scope.register(fastifyRateLimit, {
    max: limits.max,
    timeWindow: limits.windowMs,
    ...(redis !== undefined && { store: sharedRateLimitStore(redis, scope.log) }),
    keyGenerator: (request) =>
      request.caller?.kind === 'anonymous' ? `ip:${request.ip}` : callerLabel(request.caller) ?? `ip:${request.ip}`,
    onExceeded: (request) => {
      metrics.rateLimitRejections.inc({ route: request.routeOptions.url ?? 'unmatched' })
      request.log.warn({ caller: callerLabel(request.caller) }, 'rate limit exceeded')
    },
    errorResponseBuilder: (_request, context) => new GatewayError(429, 'RATE_LIMITED',
      `rate limit exceeded: ${context.max} requests per ${context.after === '' ? 'window' : 'window; retry in ' + context.after}`)
  })
}

export default fp(rateLimit, { name: 'rate-limit', dependencies: ['services', 'authentication'] })
