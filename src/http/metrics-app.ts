import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from '../config/index.js'
import type { Metrics } from '../operations/metrics.js'
import { registerErrorHandling } from './error-handler.js'
import { listenerOptions } from './listener-options.js'
import metricsRoute from './routes/metrics.js'

// Prometheus, maybe two of them: scrapes beyond this many at once wait at the door, not in the event loop.
const MAX_SCRAPE_CONNECTIONS = 8

/**
 * The listener of METRICS_PORT: GET /metrics and nothing else, so scrapes (and floods of them) stay off
 * the API's port and out of its rate limits, and the port can be closed to all but Prometheus.
 */
export async function buildMetricsApp (config: Config, metrics: Metrics, log: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log.child({ listener: 'metrics' }),
    logController: new LogController({ disableRequestLogging: true }),
    ...listenerOptions(config)
  })
  app.server.maxConnections = MAX_SCRAPE_CONNECTIONS
  registerErrorHandling(app)
  await app.register(metricsRoute, { metrics })
  return app
}

