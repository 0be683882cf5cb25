import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Metrics } from '../../operations/metrics.js'
import { notShedUnderLoad } from '../plugins/overload.js'
import { noSecurity } from '../schemas/index.js'

/** GET /metrics: on the main listener, or alone on its own listener when METRICS_PORT is set (metrics-app.ts). */
export const metricsRoute: FastifyPluginAsyncTypebox<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    config: notShedUnderLoad,
    schema: {
      operationId: 'metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics (text format)',
      description: 'Request, OpenIM call, provision and rate-limit metrics, all prefixed openim_gateway_. Scrape every replica. ' +
        'Rendered at most once a second: scrapes within a second of each other get the same text. ' +
        'With METRICS_PORT set, served only on that port.',
      security: noSecurity,
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text exposition format.' }) }
    }
  }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.exposition())
  })
}

const onMainListener: FastifyPluginAsyncTypebox = async (app) => {
  if (app.config.metricsPort === undefined) await app.register(metricsRoute, { metrics: app.metrics })
}

export default onMainListener
