import { createHash } from 'node:crypto'
import envSchema from 'env-schema'
import Type from 'typebox'

// Every setting the gateway reads, in one schema: env-schema (ajv) validates it once at start-up and a
// bad value stops the process with a message naming the variable. Nothing else reads process.env.
const httpUrl = '^https?://[^\\s/?#]+[^\\s?#]*$'
const wsUrl = '^wss?://[^\\s/?#]+[^\\s]*$'
const positiveInt = (min: number, max: number, defaultValue: number) =>
  Type.Integer({ minimum: min, maximum: max, default: defaultValue })

export const EnvSchema = Type.Object({
  OPENIM_API_URL: Type.String({ pattern: httpUrl }),
  OPENIM_SECRET: Type.String({ minLength: 1, maxLength: 256 }),
  OPENIM_ADMIN_USER_ID: Type.String({ minLength: 1, maxLength: 64, default: 'imAdmin' }),
  OPENIM_API_MODE: Type.Union([Type.Literal('auto'), Type.Literal('current'), Type.Literal('legacy')], { default: 'auto' }),
  OPENIM_TIMEOUT_MS: positiveInt(100, 120_000, 5000),
  OPENIM_ADMIN_TOKEN_TTL_SECONDS: positiveInt(1, 86_400, 240),
  OPENIM_PUBLIC_API_URL: Type.Optional(Type.String({ pattern: httpUrl })),
  OPENIM_PUBLIC_WS_URL: Type.Optional(Type.String({ pattern: wsUrl })),
  OPENIM_POOL_CONNECTIONS: positiveInt(1, 1024, 64),
  OPENIM_POOL_PIPELINING: positiveInt(1, 16, 1),
  OPENIM_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 30_000),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  SHUTDOWN_TIMEOUT_MS: positiveInt(100, 600_000, 10_000),
  READINESS_CACHE_MS: positiveInt(0, 600_000, 3000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(1000, 600_000, 60_000),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(1000, 600_000, 10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 72_000)
})

export type Env = Type.Static<typeof EnvSchema>

export interface Config {
  openim: {
    apiUrl: string
    secret: string
    adminUserID: string
    apiMode: 'auto' | 'current' | 'legacy'
    timeoutMs: number
    adminTokenTtlMs: number
    pool: { connections: number, pipelining: number, keepAliveTimeoutMs: number }
  }
  publicApiUrl?: string
  publicWsUrl?: string
  host: string
  port: number
  logLevel: string
  shutdownTimeoutMs: number
  readinessCacheMs: number
  http: { requestTimeoutMs: number, headersTimeoutMs: number, keepAliveTimeoutMs: number }
  /** Set when the secret is one OpenIM ships as a default: the server logs a warning. */
  usesDefaultSecret: boolean
}

export class ConfigError extends Error {}

// sha256 of the defaults OpenIM ships (v3.0.0's and v3.1+'s), so src/ holds no usable secret.
const DEFAULT_SECRET_HASHES = new Set([
  'a67d156605e776e56363be1eb507ce3a1c360dcc93b48d487eca93be1215ec51',
  '739907614639943f800498347f45f80183a557aea551d0da035fce98d743ff26'
])
export const secretFingerprint = (secret: string) => createHash('sha256').update(secret).digest('hex')

export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  let parsed: Env
  try {
    // Empty strings mean "unset" for optional variables: compose files often pass VAR= through.
    const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
    parsed = envSchema<Env>({ schema: EnvSchema, data, dotenv: false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`)
  }
  // Node refuses a headers timeout longer than the request timeout.
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration: HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  }
  return {
    openim: {
      apiUrl: parsed.OPENIM_API_URL.replace(/\/+$/, ''),
      secret: parsed.OPENIM_SECRET,
      adminUserID: parsed.OPENIM_ADMIN_USER_ID,
      apiMode: parsed.OPENIM_API_MODE,
      timeoutMs: parsed.OPENIM_TIMEOUT_MS,
      adminTokenTtlMs: parsed.OPENIM_ADMIN_TOKEN_TTL_SECONDS * 1000,
      pool: {
        connections: parsed.OPENIM_POOL_CONNECTIONS,
        pipelining: parsed.OPENIM_POOL_PIPELINING,
        keepAliveTimeoutMs: parsed.OPENIM_KEEP_ALIVE_TIMEOUT_MS
      }
    },
    publicApiUrl: parsed.OPENIM_PUBLIC_API_URL,
    publicWsUrl: parsed.OPENIM_PUBLIC_WS_URL,
    host: parsed.HOST,
    port: parsed.PORT,
    logLevel: parsed.LOG_LEVEL,
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS,
    readinessCacheMs: parsed.READINESS_CACHE_MS,
    http: {
      requestTimeoutMs: parsed.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: parsed.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: parsed.HTTP_KEEP_ALIVE_TIMEOUT_MS
    },
    usesDefaultSecret: DEFAULT_SECRET_HASHES.has(secretFingerprint(parsed.OPENIM_SECRET))
  }
}
