import fastifyUnderPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError, OVERLOADED_RETRY_AFTER_SECONDS as RETRY_AFTER_SECONDS } from '../../errors.js'

class OverloadedError extends GatewayError {
  constructor () {
    super(503, 'OVERLOADED', 'the gateway is overloaded; retry shortly', {}, { 'retry-after': String(RETRY_AFTER_SECONDS) })
  }
}

/**
 * When the event loop lags past the threshold, answer 503 OVERLOADED at once instead of queueing requests
 * that would time out anyway. Liveness and metrics stay exempt (a busy process is not a dead one). The 503 is
 * answered in the one error shape, with the request id.
 */
async function overload (app: FastifyInstance) {
  const maxEventLoopDelayMs = app.config.overloadMaxEventLoopDelayMs
  if (maxEventLoopDelayMs === 0) return
  await app.register(fastifyUnderPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    sampleInterval: 200,
    retryAfter: RETRY_AFTER_SECONDS,
    customError: OverloadedError
  })
}

export default fp(overload, { name: 'overload', dependencies: ['services', 'request-ids', 'error-handling'] })

/** Route config that exempts a route from overload protection. */
export const notShedUnderLoad = { pressureHandler: () => undefined }

/**
 * Route config for /readyz: under load it answers in its own shape (503 not_ready, gateway_overloaded), so
 * the orchestrator sends traffic elsewhere; the generic error body would not fit its response schema.
 */
export const notReadyUnderLoad = {
  pressureHandler: (_request: unknown, reply: { code (status: number): { header (name: string, value: string): unknown } }) => {
    reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS))
    return { status: 'not_ready' as const, reason: 'gateway_overloaded' as const, message: 'the event loop is saturated' }
  }
}
