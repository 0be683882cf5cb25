import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ReadinessCheck } from '../../operations/readiness.js'
import { notReadyUnderLoad, notShedUnderLoad } from '../plugins/overload.js'
import { HealthResponse, ReadinessResponse, noSecurity } from '../schemas/index.js'

const OPENIM_STATES = ['ok', 'unreachable', 'degraded'] as const

/** Liveness and readiness probes. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  const { readinessCacheMs, readinessRequiresOpenIm } = app.config
  const redis = app.redis
  const readiness = new ReadinessCheck({
    openim: app.openim,
    lifecycle: app.lifecycle,
    cacheMs: readinessCacheMs,
    requiresOpenIm: readinessRequiresOpenIm,
    ...(redis !== undefined && { redis: () => redis.readiness }),
    onOpenImState: (state, reason, message) => {
      for (const each of OPENIM_STATES) app.metrics.openimState.set({ state: each }, each === state ? 1 : 0)
      if (state === 'ok') app.log.info({ openim: state }, 'readiness: OpenIM serves the gateway')
      else if (state === 'degraded') app.log.error({ openim: state, reason, message }, 'readiness: OpenIM answers but refuses the gateway')
      else app.log.warn({ openim: state, reason, message }, 'readiness: OpenIM does not answer')
    }
  })
  const underLoad: { pressureHandler: typeof notReadyUnderLoad.pressureHandler | typeof notShedUnderLoad.pressureHandler } =
    readinessRequiresOpenIm ? notReadyUnderLoad : notShedUnderLoad
  // The probes answer during a shutdown too: /healthz that the process lives, /readyz that it is leaving.

  app.get('/healthz', {
    config: { ...notShedUnderLoad, servedWhileClosing: true },
    schema: {
      operationId: 'healthz',
      tags: ['operations'],
      summary: 'Liveness: answers as soon as the server listens (no OpenIM call)',
      description: 'For liveness probes: restart only a process that does not answer. Never shed under load.',
      security: noSecurity,
      response: { 200: { ...HealthResponse, description: 'The process serves requests.' } }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    // A busy replica stays in the Service (new requests are still shed with 503 OVERLOADED), unless
    // READINESS_REQUIRES_OPENIM asks for the stricter behaviour.
    config: { ...underLoad, servedWhileClosing: true },
    schema: {
      operationId: 'readyz',
      tags: ['operations'],
      security: noSecurity,
      summary: readinessRequiresOpenIm
        ? 'Readiness: 200 only when OpenIM answers and accepts the gateway\'s admin token'
        : 'Readiness: 200 while this replica can serve (started, not shutting down); reports OpenIM and Redis',
      description: 'OpenIM\'s and Redis\'s state are reported, not required: when they fail every replica fails alike, ' +
        'and callers get the gateway\'s own 503 with Retry-After. READINESS_REQUIRES_OPENIM=true (now ' +
        `${readinessRequiresOpenIm}) makes OpenIM's state (and a saturated event loop) decide too. OpenIM's state is ` +
        `reused for READINESS_CACHE_MS (now ${readinessCacheMs} ms).`,
      response: {
        200: { ...ReadinessResponse, description: 'This replica serves; openim and redis say how its dependencies look.' },
        503: { ...ReadinessResponse, description: 'This replica should get no traffic now; reason says why.' }
      }
    }
  }, async (_request, reply) => {
    const { ready, reason, message, openim, redis } = await readiness.check()
    if (ready) return { status: 'ready' as const, openim, redis }
    return reply.code(503).send({ status: 'not_ready' as const, reason, message, openim, redis })
  })
}

export default health
