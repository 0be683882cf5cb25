import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Metrics } from '../../operations/metrics.js'
import { notShedUnderLoad } from '../plugins/overload.js'

/** GET /metrics: on the main listener, or alone on its own listener when METRICS_PORT is set. */
const metricsRoute: FastifyPluginAsyncTypebox<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    config: notShedUnderLoad,
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text format)',
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text exposition format' }) }
    }
  }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}

export default metricsRoute
