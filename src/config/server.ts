import Type from 'typebox'
import { fail, httpUrl, positiveInt, withoutCredentials } from './shared.js'

// The gateway's own listener: address, logs, timeouts, shutdown.
export const ServerEnv = Type.Object({
  HOST: Type.String({
    minLength: 1,
    default: '0.0.0.0',
    description: 'Listen address (every interface by default); also the metrics listener\'s, see `METRICS_PORT`'
  }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 3000, description: 'Listen port (0 picks a free port)' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), {
    default: 'info',
    description: 'Pino log level'
  }),
  SHUTDOWN_TIMEOUT_MS: positiveInt(100, 600_000, 10_000, 'How long in-flight requests may finish after SIGTERM/SIGINT'),
  READINESS_CACHE_MS: positiveInt(0, 600_000, 3000, 'How long `/readyz` reuses OpenIM\'s state (0: every probe asks OpenIM)'),
  READINESS_REQUIRES_OPENIM: Type.Boolean({
    default: false,
    description: '`true`: `/readyz` answers 503 while OpenIM is not ok or the event loop is saturated (otherwise it reports them and ' +
      'stays 200)'
  }),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(1000, 600_000, 60_000, 'Longest a client request may take, body included'),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(1000, 600_000, 10_000,
    'Longest a client may take to send its headers (at most `HTTP_REQUEST_TIMEOUT_MS`; slow-loris guard)'),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 72_000,
    'Idle keep-alive time of client connections (longer than the usual 60 s load-balancer idle timeout, so the balancer closes first)'),
  PUBLIC_BASE_URL: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'Where clients reach the gateway (an `http(s)://` URL, e.g. `https://gateway.example.com`): the OpenAPI document\'s ' +
      '`servers`; unset, `servers` is `/` (relative to wherever the document was fetched); no `user:pass@`'
  })),
  HTTP_MAX_CONNECTIONS: positiveInt(1, 1_000_000, 4096,
    'Client connections open at once; further ones are closed on arrival (about 6 KB each: 4000 half-sent requests measured +25 MB)'),
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    description: 'Default: a quarter of `HTTP_MAX_CONNECTIONS` (`1024`). Client connections open at once from one address (at most ' +
      '`HTTP_MAX_CONNECTIONS`); further ones from it are closed on arrival. The address is the TCP peer\'s: behind a proxy, all of the ' +
      'proxy\'s connections count as one address, so the default leaves room for a proxy\'s pool (ingress-nginx keeps up to 320 idle ' +
      'connections per worker; a replica doing 3,000 provisions/s has about 30 in flight). Raise it, up to `HTTP_MAX_CONNECTIONS`, if ' +
      'yours holds more'
  })),
  METRICS_PORT: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 65_535,
    description: 'When set (not `PORT`), `/metrics` is served by a listener of its own (nothing else) on this port of `HOST`, and no ' +
      'longer on `PORT`. It binds `HOST` like the API (`0.0.0.0` by default: every interface), so keep the port from the outside with a ' +
      'firewall or NetworkPolicy (see [Limits and deadlines](../operators/limits.md)); 0 picks a random port nobody is told, so the ' +
      'metrics are unreachable (tests only). Recommended'
  }))
})

export interface ServerSettings {
  host: string
  port: number
  logLevel: string
  shutdownTimeoutMs: number
  readinessCacheMs: number
  /** /readyz fails while OpenIM is not ok (and while the event loop is saturated), as it did before. */
  readinessRequiresOpenIm: boolean
  http: {
    requestTimeoutMs: number
    headersTimeoutMs: number
    keepAliveTimeoutMs: number
    maxConnections: number
    maxConnectionsPerAddress: number
  }
  /** Where clients reach the gateway (the OpenAPI document's server), when it is known. */
  publicBaseUrl?: string
  /** When set, /metrics is served on this port only (by its own listener), not on PORT. */
  metricsPort?: number
}

export function serverSettings (env: Type.Static<typeof ServerEnv>): ServerSettings {
  // Node refuses a headers timeout longer than the request timeout.
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) fail('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    fail('METRICS_PORT must differ from PORT')
  }
  // A quarter by default: one address (a client, or a proxy's pool) can never hold the other three quarters.
  const maxConnectionsPerAddress = env.HTTP_MAX_CONNECTIONS_PER_ADDRESS ?? Math.ceil(env.HTTP_MAX_CONNECTIONS / 4)
  if (maxConnectionsPerAddress > env.HTTP_MAX_CONNECTIONS) fail('HTTP_MAX_CONNECTIONS_PER_ADDRESS must not exceed HTTP_MAX_CONNECTIONS')
  return {
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    readinessCacheMs: env.READINESS_CACHE_MS,
    readinessRequiresOpenIm: env.READINESS_REQUIRES_OPENIM,
    http: {
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerAddress
    },
    publicBaseUrl: env.PUBLIC_BASE_URL === undefined
      ? undefined
      : withoutCredentials('PUBLIC_BASE_URL', env.PUBLIC_BASE_URL, 'it is shown to browsers (Swagger UI, the client script)').replace(/\/+$/, ''),
    metricsPort: env.METRICS_PORT
  }
}
