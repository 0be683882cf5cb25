import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ReadinessCheck } from '../../operations/readiness.js'
import { notReadyUnderLoad, notShedUnderLoad } from '../plugins/overload.js'
import { HealthResponse, ReadinessResponse, noSecurity } from '../schemas/index.js'

/** Liveness and readiness probes. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  const readiness = new ReadinessCheck(app.openim, app.config.readinessCacheMs)

  app.get('/healthz', {
    config: notShedUnderLoad,
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
    config: notReadyUnderLoad,
    schema: {
      operationId: 'readyz',
      tags: ['operations'],
      security: noSecurity,
      summary: 'Readiness: 200 only when OpenIM answers and accepts the gateway\'s admin token',
      description: `The answer is reused for READINESS_CACHE_MS (now ${app.config.readinessCacheMs} ms).`,
      response: {
        200: { ...ReadinessResponse, description: 'OpenIM answers and accepts the admin token.' },
        503: { ...ReadinessResponse, description: 'The gateway cannot serve now; reason says why.' }
      }
    }
  }, async (_request, reply) => {
    const answer = await readiness.check()
    if (answer.ready) return { status: 'ready' as const }
    return reply.code(503).send({ status: 'not_ready' as const, reason: answer.reason, message: answer.message })
  })
}

export default health
