import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ReadinessCheck } from '../../operations/readiness.js'
import { notReadyUnderLoad, notShedUnderLoad } from '../plugins/overload.js'
import { HealthResponse, ReadinessResponse } from '../schemas.js'

const operations: FastifyPluginAsyncTypebox = async (app) => {
  const readiness = new ReadinessCheck(app.openim, app.config.readinessCacheMs)

  app.get('/healthz', {
    config: notShedUnderLoad,
    schema: { tags: ['operations'], summary: 'Liveness: answers as soon as the server listens (no OpenIM call)', response: { 200: HealthResponse } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: notReadyUnderLoad,
    schema: {
      tags: ['operations'],
      summary: 'Readiness: 200 only when OpenIM answers and accepts the gateway\'s admin token',
      description: `The answer is reused for READINESS_CACHE_MS (now ${app.config.readinessCacheMs} ms).`,
      response: { 200: ReadinessResponse, 503: ReadinessResponse }
    }
  }, async (_request, reply) => {
    const answer = await readiness.check()
    if (answer.ready) return { status: 'ready' as const }
    return reply.code(503).send({ status: 'not_ready' as const, reason: answer.reason, message: answer.message })
  })
}

export default operations
