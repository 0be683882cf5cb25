import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { callerLabel } from '../auth.js'
import { loggablePath } from '../logger.js'

// Probes and scrapes arrive every few seconds: their request lines are debug, not info.
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * The one line per request (Fastify's own request logging is off: app.ts), with the caller and the latency,
 * and the request-duration histogram.
 */
async function requestLog (app: FastifyInstance) {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    app.metrics.httpRequestDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
    const line = {
      method: request.method,
      url: loggablePath(request.url),
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      caller: callerLabel(request.caller),
      ip: request.ip
    }
    if (QUIET_ROUTES.has(route)) request.log.debug(line, 'request completed')
    else request.log.info(line, 'request completed')
    done()
  })
}

export default fp(requestLog, { name: 'request-log', dependencies: ['services'] })
