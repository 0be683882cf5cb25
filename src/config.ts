import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
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
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 72_000),
  GATEWAY_API_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  JWT_JWKS_URL: Type.Optional(Type.String({ pattern: httpUrl })),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '-----BEGIN PUBLIC KEY-----' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  JWT_ALGORITHMS: Type.Optional(Type.String({ pattern: '^(RS|PS|ES)(256|384|512)(,(RS|PS|ES)(256|384|512))*$|^EdDSA$' })),
  JWT_USER_ID_CLAIM: Type.String({ minLength: 1, default: 'sub' }),
  JWT_JWKS_COOLDOWN_MS: positiveInt(0, 3_600_000, 30_000),
  JWT_USER_ID_MAPPING: Type.Union([Type.Literal('none'), Type.Literal('hash')], { default: 'none' }),
  AUTH_DISABLED: Type.Boolean({ default: false }),
  CORS_ORIGINS: Type.Optional(Type.String({ minLength: 1 })),
  RATE_LIMIT_MAX: positiveInt(1, 1_000_000, 60),
  RATE_LIMIT_WINDOW: Type.String({ pattern: '^\\s*\\d+\\s*(ms|s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)?\\s*$', default: '1 minute' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$' })),
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false' }),
  BODY_LIMIT_BYTES: positiveInt(1024, 10 * 1024 * 1024, 64 * 1024),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: positiveInt(0, 60_000, 1000)
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
  auth: AuthConfig
  /** Exact origins allowed to call the API from a browser. */
  corsOrigins: string[]
  rateLimit: { max: number, windowMs: number, redisUrl?: string }
  /** Fastify's trustProxy: false, true, a hop count, or the addresses/CIDRs of trusted proxies. */
  trustProxy: boolean | number | string[]
  bodyLimitBytes: number
  /** Above this event-loop delay requests get 503 OVERLOADED; 0 disables the check. */
  overloadMaxEventLoopDelayMs: number
  /** Set when the secret is one OpenIM ships as a default: the server logs a warning. */
  usesDefaultSecret: boolean
}

export interface ApiKey { name: string, key: string }

export type JwtKeySource =
  | { kind: 'jwks', url: string, cooldownMs: number }
  | { kind: 'publicKey', pem: string }
  | { kind: 'secret', secret: string }

export interface AuthConfig {
  disabled: boolean
  apiKeys: ApiKey[]
  jwt?: {
    source: JwtKeySource
    algorithms: string[]
    issuer?: string
    audience?: string[]
    userIdClaim: string
    /** 'hash': subjects OpenIM refuses become "h_" + 40 hex digits of their sha256. */
    userIdMapping: 'none' | 'hash'
  }
}

export class ConfigError extends Error {}

const fail = (message: string): never => { throw new ConfigError(`invalid configuration: ${message}`) }

const MIN_API_KEY_LENGTH = 16
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

function parseApiKeys (value: string | undefined): ApiKey[] {
  if (value === undefined) return []
  const keys = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry) => {
    const separator = entry.indexOf(':')
    const name = entry.slice(0, separator)
    const key = entry.slice(separator + 1)
    if (separator <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail('GATEWAY_API_KEYS must be a comma-separated list of name:key pairs (names: letters, digits, "_", "-", ".")')
    if (key.length < MIN_API_KEY_LENGTH) fail(`GATEWAY_API_KEYS: the key of "${name}" is shorter than ${MIN_API_KEY_LENGTH} characters`)
    if (/\s/.test(key)) fail(`GATEWAY_API_KEYS: the key of "${name}" contains white space`)
    return { name, key }
  })
  if (new Set(keys.map((entry) => entry.name)).size !== keys.length) fail('GATEWAY_API_KEYS: a name appears twice')
  if (new Set(keys.map((entry) => entry.key)).size !== keys.length) fail('GATEWAY_API_KEYS: two callers share a key')
  return keys
}

function parseJwt (env: Env): AuthConfig['jwt'] {
  const sources: JwtKeySource[] = []
  if (env.JWT_JWKS_URL !== undefined) {
    const url = new URL(env.JWT_JWKS_URL)
    if (url.protocol === 'http:' && !LOOPBACK_HOSTS.test(url.hostname)) fail('JWT_JWKS_URL must use https (plain http only for loopback addresses)')
    sources.push({ kind: 'jwks', url: env.JWT_JWKS_URL, cooldownMs: env.JWT_JWKS_COOLDOWN_MS })
  }
  // PEM in one environment line often arrives with literal "\n" separators.
  if (env.JWT_PUBLIC_KEY !== undefined) sources.push({ kind: 'publicKey', pem: env.JWT_PUBLIC_KEY.replaceAll('\\n', '\n') })
  if (env.JWT_SECRET !== undefined) sources.push({ kind: 'secret', secret: env.JWT_SECRET })
  if (sources.length > 1) fail('set only one of JWT_JWKS_URL, JWT_PUBLIC_KEY and JWT_SECRET')
  const source = sources[0]
  if (source === undefined) {
    if (env.JWT_ISSUER !== undefined || env.JWT_AUDIENCE !== undefined || env.JWT_ALGORITHMS !== undefined) {
      fail('JWT_ISSUER, JWT_AUDIENCE and JWT_ALGORITHMS need one of JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET')
    }
    return undefined
  }
  if (source.kind === 'secret' && env.JWT_ALGORITHMS !== undefined) fail('JWT_ALGORITHMS does not apply to JWT_SECRET (always HS256)')
  return {
    source,
    algorithms: source.kind === 'secret' ? ['HS256'] : (env.JWT_ALGORITHMS ?? (source.kind === 'jwks' ? 'RS256,ES256,PS256' : 'RS256')).split(','),
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE?.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''),
    userIdClaim: env.JWT_USER_ID_CLAIM,
    userIdMapping: env.JWT_USER_ID_MAPPING
  }
}

const WINDOW_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, second: 1000, seconds: 1000, m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000, h: 3_600_000, hour: 3_600_000, hours: 3_600_000 }

/** "1 minute", "30s", "500 ms", or a bare number of milliseconds. */
function parseWindow (value: string): number {
  const [, amount, unit] = /^\s*(\d+)\s*([a-z]*)\s*$/.exec(value) ?? []
  const ms = Number(amount) * (WINDOW_UNITS[unit || 'ms'] ?? Number.NaN)
  if (!(ms >= 1000 && ms <= 86_400_000)) fail('RATE_LIMIT_WINDOW must be between 1 second and 24 hours, e.g. "1 minute" or "30s"')
  return ms
}

function parseTrustProxy (value: string): Config['trustProxy'] {
  if (value === 'true' || value === 'false') return value === 'true'
  if (/^\d+$/.test(value)) return Number(value)
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/')
    if (rest.length > 0 || isIP(address ?? '') === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      fail(`TRUST_PROXY must be true, false, a hop count, or comma-separated proxy addresses/CIDRs ("${entry}" is none of these)`)
    }
  }
  return entries
}

function parseOrigins (value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((origin) => {
    if (!/^https?:\/\/[^\s/?#]+$/.test(origin)) fail(`CORS_ORIGINS: "${origin}" is not an exact origin like https://app.example.com`)
    return origin
  })
}

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
    parsed = envSchema<Env>({ schema: EnvSchema, data, env: false, dotenv: false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`)
  }
  // Node refuses a headers timeout longer than the request timeout.
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) fail('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  const auth: AuthConfig = { disabled: parsed.AUTH_DISABLED, apiKeys: parseApiKeys(parsed.GATEWAY_API_KEYS), jwt: parseJwt(parsed) }
  // Secure by default: a gateway anyone can ask for any user's token is impersonation as a service.
  if (!auth.disabled && auth.apiKeys.length === 0 && auth.jwt === undefined) {
    fail('no caller authentication is configured: set GATEWAY_API_KEYS and/or one of JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET ' +
      '(or AUTH_DISABLED=true for local development only)')
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
    auth,
    corsOrigins: parseOrigins(parsed.CORS_ORIGINS),
    rateLimit: { max: parsed.RATE_LIMIT_MAX, windowMs: parseWindow(parsed.RATE_LIMIT_WINDOW), redisUrl: parsed.REDIS_URL },
    trustProxy: parseTrustProxy(parsed.TRUST_PROXY),
    bodyLimitBytes: parsed.BODY_LIMIT_BYTES,
    overloadMaxEventLoopDelayMs: parsed.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
    usesDefaultSecret: DEFAULT_SECRET_HASHES.has(secretFingerprint(parsed.OPENIM_SECRET))
  }
}
