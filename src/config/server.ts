import Type from 'typebox'
import { fail, httpUrl, positiveInt, withoutCredentials } from './shared.js'

// The gateway's own listener: address, logs, timeouts, shutdown.
export const ServerEnv = Type.Object({
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  SHUTDOWN_TIMEOUT_MS: positiveInt(100, 600_000, 10_000),
  READINESS_CACHE_MS: positiveInt(0, 600_000, 3000),
  READINESS_REQUIRES_OPENIM: Type.Boolean({ default: false }),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(1000, 600_000, 60_000),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(1000, 600_000, 10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 72_000),
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: httpUrl })),
  HTTP_MAX_CONNECTIONS: positiveInt(1, 1_000_000, 4096),
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 }))
})

export interface ServerSettings {
  host: string
  port: number
  logLevel: string
  shutdownTimeoutMs: number
  readinessCacheMs: number
  /** /readyz fails while OpenIM is not ok (and while the event loop is saturated), as it did before. */
  readinessRequiresOpenIm: boolean
  http: { requestTimeoutMs: number, headersTimeoutMs: number, keepAliveTimeoutMs: number, maxConnections: number, maxConnectionsPerAddress: number }
  /** Where clients reach the gateway (the OpenAPI document's server), when it is known. */
  publicBaseUrl?: string
  /** When set, /metrics is served on this port only (by its own listener), not on PORT. */
  metricsPort?: number
}

export function serverSettings (env: Type.Static<typeof ServerEnv>): ServerSettings {
  // Node refuses a headers timeout longer than the request timeout.
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) fail('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) fail('METRICS_PORT must differ from PORT')
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
