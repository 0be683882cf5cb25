import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from '../config/index.js'
import type { Metrics } from '../operations/metrics.js'
import { limitConnections } from './connection-limits.js'
import { listenerOptions } from './listener-options.js'
import errorHandling from './plugins/error-handling.js'
import requestIds from './plugins/request-ids.js'
import { metricsRoute } from './routes/metrics.js'

// Prometheus scrapes every 15–60 s, one request per connection, sent at once. So an idle connection is
// closed after a second (idle keep-alive peers cannot keep slots), and a peer dripping its headers is cut
// after 5 s (Node checks every second); the request timeout is Prometheus' default scrape timeout.
const SCRAPE_KEEP_ALIVE_TIMEOUT_MS = 1000
const SCRAPE_HEADERS_TIMEOUT_MS = 5000
const SCRAPE_REQUEST_TIMEOUT_MS = 10_000

// Scrapes beyond these wait at the door, not in the event loop. Per address: one peer (a flood, an idle or
// dripping client) holds at most 4, so Prometheus (two, for a highly available pair) always finds a slot
// unless 16 other addresses gang up; keep the port reachable by Prometheus only (docs/operators/kubernetes.md).
const SCRAPE_CONNECTIONS = 64
const SCRAPE_CONNECTIONS_PER_ADDRESS = 4

/**
 * The listener of METRICS_PORT: GET /metrics and nothing else, so scrapes (and floods of them) stay off
 * the API's port and out of its rate limits, and the port can be closed to all but Prometheus.
 */
export async function buildMetricsApp (config: Config, metrics: Metrics, log: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log.child({ listener: 'metrics' }),
    logController: new LogController({ disableRequestLogging: true }),
    ...listenerOptions({
      keepAliveTimeoutMs: SCRAPE_KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: Math.min(config.http.headersTimeoutMs, SCRAPE_HEADERS_TIMEOUT_MS),
      requestTimeoutMs: Math.min(config.http.requestTimeoutMs, SCRAPE_REQUEST_TIMEOUT_MS)
    })
  })
  limitConnections(app.server, {
    total: SCRAPE_CONNECTIONS,
    perAddress: SCRAPE_CONNECTIONS_PER_ADDRESS,
    onRefused: (limit) => metrics.connectionsRefused.inc({ listener: 'metrics', limit })
  })
  await app.register(requestIds)
  await app.register(errorHandling)
  await app.register(metricsRoute, { metrics })
  return app
}
