import type { KeyObject } from 'node:crypto'
import Type from 'typebox'
import { publicKeyFor } from './jwt-key.js'
import { commaList, fail, httpUrl, isPlaceholder, positiveInt, withoutCredentials } from './shared.js'

// Who may call the gateway: services with API keys, end users with JWTs, browsers from allowed origins.
export const AuthEnv = Type.Object({
  GATEWAY_API_KEYS: Type.Optional(Type.String({
    minLength: 1,
    description: 'Services\' keys: comma-separated `name:key` pairs; names of 1–64 letters, digits, `_`, `-`, `.`; keys of 16+ ' +
      'characters without white space. A name may have several keys (rotation), a key may appear once; a key beginning with ' +
      '`change-me` (an example\'s placeholder) stops the start. Clients that take one key (`npm run import`, the caller examples) ' +
      'read its key part from `GATEWAY_API_KEY`'
  })),
  JWT_JWKS_URL: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'The identity provider\'s key set (https; plain http only for loopback; no `user:pass@`). Only one of `JWT_JWKS_URL`, ' +
      '`JWT_PUBLIC_KEY`, `JWT_SECRET`'
  })),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({
    pattern: '-----BEGIN PUBLIC KEY-----',
    description: 'A PEM public key instead (`\\n` escapes accepted): RSA of 2048+ bits, EC P-256/P-384/P-521 or Ed25519. Read at ' +
      'start-up, and it must fit every algorithm in `JWT_ALGORITHMS` (else the start stops naming both)'
  })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'An HS256 secret instead' })),
  JWT_ISSUER: Type.Optional(Type.String({
    minLength: 1,
    description: 'Required `iss` (like `JWT_AUDIENCE`, `JWT_ALGORITHMS` and `JWT_ALLOW_ANY_AUDIENCE`, only with a JWT source)'
  })),
  JWT_AUDIENCE: Type.Optional(Type.String({
    minLength: 1,
    description: 'Required `aud` (comma-separated, any of them); required with a JWT source: the gateway refuses to start without it ' +
      'unless `JWT_ALLOW_ANY_AUDIENCE=true`'
  })),
  JWT_ALGORITHMS: Type.Optional(Type.String({
    pattern: '^(RS|PS|ES)(256|384|512)(,(RS|PS|ES)(256|384|512))*$|^EdDSA$',
    description: 'Default: `RS256,ES256,PS256` with `JWT_JWKS_URL`, `RS256` with `JWT_PUBLIC_KEY`. Accepted algorithms, comma-separated; ' +
      'HS256 only with `JWT_SECRET`. With `JWT_PUBLIC_KEY`, only what its one key verifies: `RS*`/`PS*` for RSA (any mix), the curve\'s ' +
      'own `ES*` for EC (`ES256` for P-256), `EdDSA` for Ed25519; keys of several kinds need `JWT_JWKS_URL`'
  })),
  JWT_USER_ID_CLAIM: Type.String({
    minLength: 1,
    default: 'sub',
    description: 'The claim that holds the userID: a string, or a whole number up to 2^53 − 1 (a larger number is 401: JSON rounds it, ' +
      'so the identity provider must send it as a string)'
  }),
  JWT_JWKS_COOLDOWN_MS: positiveInt(0, 3_600_000, 30_000, 'Least time between two key-set fetches triggered by an unknown `kid`'),
  JWT_USER_ID_MAPPING: Type.Union([Type.Literal('none'), Type.Literal('hash')], {
    default: 'none',
    description: '`hash`: subjects OpenIM v3.8.0+ refuses become `h_` + 40 hex digits of their sha256. Subjects already of that form ' +
      'are refused (401) with either value. Before switching a running deployment to `hash`, see ' +
      '[Switching to `hash`](../guides/authentication.md#switching-to-hash)'
  }),
  JWT_CLOCK_TOLERANCE_SECONDS: positiveInt(0, 300, 30, 'Clock skew allowed on `exp`, `nbf` and `iat`'),
  JWT_MAX_LIFETIME_SECONDS: Type.Optional(Type.Integer({
    minimum: 60,
    maximum: 31_536_000,
    description: 'Longest accepted `exp − iat` (1 minute – 1 year); when set, tokens must carry `iat`'
  })),
  JWT_ALLOW_ANY_AUDIENCE: Type.Boolean({
    default: false,
    description: '`true` accepts tokens minted for any application of the identity provider (logged as a warning)'
  }),
  JWT_NICKNAME_CLAIM: Type.String({
    pattern: '^\\S+$',
    default: 'name',
    description: 'The claim an end user\'s nickname comes from (a claim name without white space; the request body\'s is ignored for ' +
      'end users)'
  }),
  JWT_FACE_URL_CLAIM: Type.String({
    pattern: '^\\S+$',
    default: 'picture',
    description: 'The claim an end user\'s avatar (`faceURL`) comes from, like `JWT_NICKNAME_CLAIM`'
  }),
  AUTH_DISABLED: Type.Boolean({
    default: false,
    description: '`true` accepts anonymous callers: local development only (logged as a warning)'
  }),
  CORS_ORIGINS: Type.Optional(Type.String({ minLength: 1, description: 'Comma-separated exact origins that may call from a browser' }))
})

type AuthEnvValues = Type.Static<typeof AuthEnv>

export interface ApiKey { name: string, key: string }

export type JwtKeySource =
  | { kind: 'jwks', url: string, cooldownMs: number }
  /** Read and checked against JWT_ALGORITHMS at start-up. */
  | { kind: 'publicKey', key: KeyObject }
  | { kind: 'secret', secret: string }

export interface AuthConfig {
  disabled: boolean
  apiKeys: ApiKey[]
  jwt?: {
    source: JwtKeySource
    algorithms: string[]
    issuer?: string
    /** Undefined only with JWT_ALLOW_ANY_AUDIENCE=true (allowAnyAudience). */
    audience?: string[]
    allowAnyAudience: boolean
    clockToleranceSeconds: number
    /** Longest accepted exp − iat; undefined: any. */
    maxLifetimeSeconds?: number
    userIdClaim: string
    /** 'hash': subjects OpenIM refuses become "h_" + 40 hex digits of their sha256. */
    userIdMapping: 'none' | 'hash'
    /** The claims an end user's nickname and faceURL come from (the request body's are ignored). */
    nicknameClaim: string
    faceUrlClaim: string
  }
}

export interface AuthSettings {
  auth: AuthConfig
  /** Exact origins allowed to call the API from a browser. */
  corsOrigins: string[]
}

const MIN_API_KEY_LENGTH = 16
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

function parseApiKeys (value: string | undefined): ApiKey[] {
  const keys = commaList(value).map((entry) => {
    const separator = entry.indexOf(':')
    const name = entry.slice(0, separator)
    const key = entry.slice(separator + 1)
    if (separator <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail('GATEWAY_API_KEYS must be a comma-separated list of name:key pairs (names: letters, digits, "_", "-", ".")')
    if (key.length < MIN_API_KEY_LENGTH) fail(`GATEWAY_API_KEYS: the key of "${name}" is shorter than ${MIN_API_KEY_LENGTH} characters`)
    if (/\s/.test(key)) fail(`GATEWAY_API_KEYS: the key of "${name}" contains white space`)
    if (isPlaceholder(key)) {
      fail(`GATEWAY_API_KEYS: the key of "${name}" is a placeholder ("change-me…"): generate one (openssl rand -hex 24)`)
    }
    return { name, key }
  })
  // A name may have several keys, so a service's key can be rotated without downtime (old and new side by
  // side); one key under two entries would make the caller ambiguous or the list a mistake.
  if (new Set(keys.map((entry) => entry.key)).size !== keys.length) fail('GATEWAY_API_KEYS: the same key appears twice')
  return keys
}

function parseJwt (env: AuthEnvValues): AuthConfig['jwt'] {
  const sources: Array<Exclude<JwtKeySource, { kind: 'publicKey' }> | { kind: 'publicKey', pem: string }> = []
  if (env.JWT_JWKS_URL !== undefined) {
    const url = new URL(withoutCredentials('JWT_JWKS_URL', env.JWT_JWKS_URL, 'the key set is fetched without them; a key set needs none'))
    if (url.protocol === 'http:' && !LOOPBACK_HOSTS.test(url.hostname)) {
      fail('JWT_JWKS_URL must use https (plain http only for loopback addresses)')
    }
    sources.push({ kind: 'jwks', url: env.JWT_JWKS_URL, cooldownMs: env.JWT_JWKS_COOLDOWN_MS })
  }
  // PEM in one environment line often arrives with literal "\n" separators.
  if (env.JWT_PUBLIC_KEY !== undefined) sources.push({ kind: 'publicKey', pem: env.JWT_PUBLIC_KEY.replaceAll('\\n', '\n') })
  if (env.JWT_SECRET !== undefined) sources.push({ kind: 'secret', secret: env.JWT_SECRET })
  if (sources.length > 1) fail('set only one of JWT_JWKS_URL, JWT_PUBLIC_KEY and JWT_SECRET')
  const source = sources[0]
  if (source === undefined) {
    if (env.JWT_ISSUER !== undefined || env.JWT_AUDIENCE !== undefined || env.JWT_ALGORITHMS !== undefined || env.JWT_ALLOW_ANY_AUDIENCE) {
      fail('JWT_ISSUER, JWT_AUDIENCE, JWT_ALLOW_ANY_AUDIENCE and JWT_ALGORITHMS need one of JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET')
    }
    return undefined
  }
  if (source.kind === 'secret' && env.JWT_ALGORITHMS !== undefined) fail('JWT_ALGORITHMS does not apply to JWT_SECRET (always HS256)')
  // An identity provider usually serves several applications; without an audience check a token it minted
  // for any of them would log its holder in here.
  if (env.JWT_AUDIENCE === undefined && !env.JWT_ALLOW_ANY_AUDIENCE) {
    fail('JWT_AUDIENCE is required with JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET: set it to the audience your identity provider ' +
      'puts in tokens for this application (or JWT_ALLOW_ANY_AUDIENCE=true to accept tokens minted for any of its applications)')
  }
  if (env.JWT_AUDIENCE !== undefined && env.JWT_ALLOW_ANY_AUDIENCE) fail('set JWT_AUDIENCE or JWT_ALLOW_ANY_AUDIENCE=true, not both')
  const defaultAlgorithms = source.kind === 'jwks' ? 'RS256,ES256,PS256' : 'RS256'
  const algorithms = source.kind === 'secret' ? ['HS256'] : (env.JWT_ALGORITHMS ?? defaultAlgorithms).split(',')
  return {
    source: source.kind === 'publicKey' ? { kind: 'publicKey', key: publicKeyFor(source.pem, algorithms) } : source,
    algorithms,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE === undefined ? undefined : commaList(env.JWT_AUDIENCE),
    allowAnyAudience: env.JWT_ALLOW_ANY_AUDIENCE,
    clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
    maxLifetimeSeconds: env.JWT_MAX_LIFETIME_SECONDS,
    userIdClaim: env.JWT_USER_ID_CLAIM,
    userIdMapping: env.JWT_USER_ID_MAPPING,
    nicknameClaim: env.JWT_NICKNAME_CLAIM,
    faceUrlClaim: env.JWT_FACE_URL_CLAIM
  }
}

function parseOrigins (value: string | undefined): string[] {
  return commaList(value).map((origin) => {
    // Never repeated when it holds user:pass@: that part may be a password pasted by mistake.
    if (origin.includes('@')) fail('CORS_ORIGINS: an entry carries a user name or password (user:pass@); an origin is scheme://host[:port]')
    if (!/^https?:\/\/[^\s/?#]+$/.test(origin)) fail(`CORS_ORIGINS: "${origin}" is not an exact origin like https://app.example.com`)
    return origin
  })
}

const NO_CALLER_AUTH = 'no caller authentication is configured: set GATEWAY_API_KEYS and/or one of JWT_JWKS_URL, JWT_PUBLIC_KEY, ' +
  'JWT_SECRET (or AUTH_DISABLED=true for local development only)'

/** Whether anyone may call: AUTH_DISABLED, or at least one kind of caller configured. */
export const callerAuthConfigured = (auth: AuthConfig) => auth.disabled || auth.apiKeys.length > 0 || auth.jwt !== undefined

/**
 * `requireCallerAuth: false` is for tools that only read the settings (npm run doctor reports a missing
 * caller authentication instead of stopping); the gateway itself always requires it.
 */
export function authSettings (env: AuthEnvValues, { requireCallerAuth = true } = {}): AuthSettings {
  const auth: AuthConfig = { disabled: env.AUTH_DISABLED, apiKeys: parseApiKeys(env.GATEWAY_API_KEYS), jwt: parseJwt(env) }
  // Secure by default: a gateway anyone can ask for any user's token is impersonation as a service.
  if (requireCallerAuth && !callerAuthConfigured(auth)) fail(NO_CALLER_AUTH)
  return { auth, corsOrigins: parseOrigins(env.CORS_ORIGINS) }
}
