import type { Config } from '../config/index.js'
import { clientErrorHandler } from './client-errors.js'
import { requestId } from './plugins/request-ids.js'

/**
 * How often Node checks connections against the headers and request timeouts. Node's default of 30 s let
 * a client dripping its headers stay 20–30 s past a 3 s headers timeout.
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000

export type ListenerTimeouts = Pick<Config['http'], 'requestTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs'>

/**
 * What both listeners (the API and METRICS_PORT) share: deliberate server timeouts (docs/operators/limits.md): a
 * client that trickles its headers is cut off within a second of its headers timeout; parser errors answered in the
 * error shape; request ids that are the caller's sane x-request-id or a UUID, never Fastify's
 * counter.
 */
export function listenerOptions (timeouts: ListenerTimeouts) {
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // The request timeout goes to Node's constructor too: it checks the headers timeout against it there,
    // before Fastify sets it, and refused a headers timeout above its own 300 s default.
    http: {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS
    },
    clientErrorHandler,
    genReqId: requestId,
    requestIdHeader: false as const,
    // plugins/shutdown.ts answers requests that arrive during a shutdown, in the one error shape.
    return503OnClosing: false
  }
}
