import type { Config } from '../config/index.js'
import { clientErrorHandler } from './client-errors.js'

/**
 * How often Node checks connections against the headers and request timeouts. Node's default of 30 s let
 * a client dripping its headers stay 20–30 s past a 3 s headers timeout.
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000

/**
 * What both listeners (the API and METRICS_PORT) share: deliberate server timeouts (README "Operating
 * it"): a client that trickles its headers is cut off within a second of HTTP_HEADERS_TIMEOUT_MS, idle
 * keep-alive outlives a load balancer's usual 60 s; and parser errors answered in the error shape.
 */
export function listenerOptions (config: Config) {
  return {
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // The request timeout goes to Node's constructor too: it checks the headers timeout against it there,
    // before Fastify sets it, and refused a headers timeout above its own 300 s default.
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS
    },
    clientErrorHandler
  }
}
