import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import type { AuthConfig, JwtKeySource } from '../config/index.js'
import { GatewayError } from '../errors.js'

type JwtSettings = NonNullable<AuthConfig['jwt']>
type KeyResolver = Parameters<typeof jwtVerify>[1]

/** A 401 with a Bearer challenge (RFC 6750); `error` names what was wrong with the request or token. */
export function bearerUnauthenticated (message: string, error?: 'invalid_request' | 'invalid_token'): GatewayError {
  // RFC 6750 §3: error_description is printable ASCII without '"' and '\'.
  const description = message.replaceAll('"', '\'').replace(/[^\x20-\x7e]|\\/g, '')
  const challenge = error === undefined
    ? 'Bearer realm="openim-gateway"'
    : `Bearer realm="openim-gateway", error="${error}", error_description="${description}"`
  return new GatewayError(401, 'UNAUTHENTICATED', message, {}, { 'www-authenticate': challenge })
}

const invalidToken = (message: string) => bearerUnauthenticated(message, 'invalid_token')

class KeySetUnavailable extends GatewayError {
  constructor (retryAfterMs: number) {
    super(503, 'AUTH_UNAVAILABLE', 'the identity provider\'s signing keys (JWT_JWKS_URL) cannot be fetched right now', {},
      { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) })
  }
}

/** A fetch of the key set that failed: no answer, a timeout, a non-200 answer, or one that is not a key set. */
function isKeySetFailure (error: unknown): boolean {
  return !(error instanceof joseErrors.JOSEError) || error instanceof joseErrors.JWKSTimeout ||
    error instanceof joseErrors.JWKSInvalid || error.constructor === joseErrors.JOSEError
}

/**
 * jose's remote key set caches the keys and refetches when a token names an unknown kid, at most once per
 * cooldown, and concurrent requests share one fetch. Its cooldown starts only after a successful fetch,
 * though, so while the identity provider fails every request fetched again. Here a failed fetch starts
 * the same cooldown: until it ends, requests that need the key set get 503 at once, without a fetch.
 */
function remoteKeySet (source: Extract<JwtKeySource, { kind: 'jwks' }>): KeyResolver {
  let failedAt = Number.NEGATIVE_INFINITY
  const remainingCooldown = () => failedAt + source.cooldownMs - Date.now()
  const fetchUnlessCoolingDown: typeof fetch = async (input, init) => {
    if (remainingCooldown() > 0) throw new KeySetUnavailable(remainingCooldown())
    return fetch(input, init)
  }
  const keySet = createRemoteJWKSet(new URL(source.url), {
    cacheMaxAge: 10 * 60_000, cooldownDuration: source.cooldownMs, timeoutDuration: 5000, [customFetch]: fetchUnlessCoolingDown
  })
  return async (header, token) => {
    try {
      return await keySet(header, token)
    } catch (error) {
      if (error instanceof KeySetUnavailable || !isKeySetFailure(error)) throw error
      failedAt = Date.now()
      throw new KeySetUnavailable(source.cooldownMs)
    }
  }
}

function keyResolver ({ source }: JwtSettings): KeyResolver {
  if (source.kind === 'jwks') return remoteKeySet(source)
  if (source.kind === 'secret') return new TextEncoder().encode(source.secret)
  // Checked against every accepted algorithm by the configuration; jose derives the key each one needs.
  return source.key
}

/** End users' tokens: signature, algorithm, issuer, audience, and the times (exp required, bounded skew). */
export class JwtVerifier {
  private constructor (private readonly settings: JwtSettings, private readonly key: KeyResolver) {}

  static async create (settings: JwtSettings): Promise<JwtVerifier> {
    return new JwtVerifier(settings, keyResolver(settings))
  }

  async verify (token: string): Promise<JWTPayload> {
    const { algorithms, issuer, audience, clockToleranceSeconds: tolerance, maxLifetimeSeconds } = this.settings
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(token, this.key as Parameters<typeof jwtVerify>[1], {
        algorithms, issuer, audience, clockTolerance: tolerance, requiredClaims: ['exp']
      }))
    } catch (error) {
      throw tokenFailure(error)
    }
    const now = Math.floor(Date.now() / 1000)
    // jose checks iat only against a maximum age; a token issued in the future is as wrong as an expired one.
    if (payload.iat !== undefined && payload.iat > now + tolerance) throw invalidToken('the token\'s "iat" claim is in the future')
    if (maxLifetimeSeconds !== undefined) {
      if (payload.iat === undefined) throw invalidToken('the token has no "iat" claim, so its lifetime cannot be checked')
      if (payload.exp! - payload.iat > maxLifetimeSeconds) {
        throw invalidToken('the token\'s lifetime (exp - iat) is longer than JWT_MAX_LIFETIME_SECONDS allows')
      }
    }
    return payload
  }
}

function tokenFailure (error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  if (error instanceof joseErrors.JWTExpired) return invalidToken('the token has expired')
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return invalidToken(error.reason === 'missing'
      ? `the token has no "${error.claim}" claim`
      : `the token's "${error.claim}" claim is not accepted`)
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return invalidToken('the token\'s signing algorithm is not accepted')
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return invalidToken('the token is signed with a key the identity provider does not publish')
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalidToken('the token\'s signature is not valid')
  return invalidToken('the token is malformed')
}
