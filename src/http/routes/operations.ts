import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ReadinessCheck } from '../../operations/readiness.js'
import { notShedUnderLoad } from '../plugins/overload.js'
import { HealthResponse, ReadinessResponse } from '../schemas.js'

const operations: FastifyPluginAsyncTypebox = async (app) => {
  const readiness = new ReadinessCheck(app.openim, app.config.readinessCacheMs)

  app.get('/healthz', {
    config: notShedUnderLoad,
    schema: { tags: ['operations'], summary: 'Liveness: answers as soon as the server listens (no OpenIM call)', response: { 200: HealthResponse } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness: 200 only when OpenIM answers and accepts the gateway\'s admin token',
      description: `The answer is reused for READINESS_CACHE_MS (now ${app.config.readinessCacheMs} ms).`,
      // 503 is also what overload shedding answers, in the error shape: with only the readiness shape
      // declared, the serializer failed on that body and the probe got a 500.
      response: {
        200: ReadinessResponse,
        503: Type.Union([ReadinessResponse, Type.Ref('ErrorResponse')], {
          description: 'not_ready with the reason; or OVERLOADED, in the error shape, while the event loop is saturated'
        })
      }
    }
  }, async (_request, reply) => {
    const answer = await readiness.check()
    if (answer.ready) return { status: 'ready' as const }
    return reply.code(503).send({ status: 'not_ready' as const, reason: answer.reason, message: answer.message })
  })

  app.get('/metrics', {
    config: notShedUnderLoad,
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text format)',
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text exposition format' }) }
    }
  }, async (_request, reply) => {
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

export default operations
