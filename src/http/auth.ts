import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload } from 'jose'
import type { AuthConfig } from '../config/index.js'
import { GatewayError } from '../errors.js'
import { userIdProblem } from '../openim/generations.js'

/** Who is calling: a service with an API key, an end user with a JWT, or nobody (AUTH_DISABLED). */
export type Caller =
  | { kind: 'service', name: string }
  | { kind: 'user', subject: string, userID: string }
  | { kind: 'anonymous' }

/** How a caller appears in logs and rate-limit keys; undefined before (or without) authentication. */
export function callerLabel (caller: Caller | undefined): string | undefined {
  switch (caller?.kind) {
    case undefined: return undefined
    case 'service': return `service:${caller.name}`
    case 'user': return `user:${caller.userID}`
    case 'anonymous': return 'anonymous'
  }
}

/**
 * The userID a caller may act on. Services (and anyone when auth is disabled) name it; an end user is the
 * userID of their token, and naming another is forbidden.
 */
export function userIdFor (caller: Caller | undefined, requested: string | undefined): string {
  // Only routes in the authenticated scope call this; without a caller the route was registered wrongly.
  if (caller === undefined) throw new Error('userIdFor called on a route outside the authenticated scope')
  if (caller.kind === 'user') {
    if (requested !== undefined && requested !== caller.userID) {
      throw new GatewayError(403, 'FORBIDDEN', 'an end user may only act on their own userID (the one in their token)')
    }
    return caller.userID
  }
  if (requested === undefined) throw new GatewayError(400, 'INVALID_REQUEST', 'body must have required property \'userID\' (only end-user tokens imply it)')
  return requested
}

/**
 * Identity providers often use subjects OpenIM v3.8+ refuses (UUIDs with "-", "auth0|…"). With mapping
 * 'hash' such a subject becomes "h_" + the first 40 hex digits of its sha256: deterministic, 42 characters,
 * letters and digits only. Subjects OpenIM accepts are kept as they are.
 */
export function userIdFromSubject (subject: string, mapping: 'none' | 'hash'): string {
  if (mapping === 'none' || userIdProblem(subject, 'current') === undefined) return subject
  return `h_${createHash('sha256').update(subject).digest('hex').slice(0, 40)}`
}

const digest = (value: string) => createHash('sha256').update(value).digest()

type KeyResolver = Parameters<typeof jwtVerify>[1]

/** A 401; with a Bearer challenge (RFC 6750) where bearer tokens are accepted, none for API keys. */
function unauthenticated (message: string, bearer: { error?: string } | false): GatewayError {
  if (bearer === false) return new GatewayError(401, 'UNAUTHENTICATED', message)
  const challenge = bearer.error === undefined
    ? 'Bearer realm="openim-gateway"'
    : `Bearer realm="openim-gateway", error="${bearer.error}", error_description="${message}"`
  return new GatewayError(401, 'UNAUTHENTICATED', message, {}, { 'www-authenticate': challenge })
}

export class Authenticator {
  // API keys are compared as sha256 digests with timingSafeEqual, over every configured key, so neither
  // a key's length nor which key matched shows in the timing.
  private readonly keyDigests: Array<{ name: string, digest: Buffer }>

  private constructor (private readonly config: AuthConfig, private readonly jwtKey?: KeyResolver) {
    this.keyDigests = config.apiKeys.map(({ name, key }) => ({ name, digest: digest(key) }))
  }

  static async create (config: AuthConfig): Promise<Authenticator> {
    const source = config.jwt?.source
    let key: KeyResolver | undefined
    if (source?.kind === 'jwks') {
      // jose caches the key set and refetches it when a token names an unknown kid (key rotation), at most
      // once per cooldown, so a flood of forged kids cannot hammer the identity provider.
      key = createRemoteJWKSet(new URL(source.url), { cacheMaxAge: 10 * 60_000, cooldownDuration: source.cooldownMs, timeoutDuration: 5000 })
    } else if (source?.kind === 'publicKey') {
      try {
        key = await importSPKI(source.pem, config.jwt?.algorithms[0] ?? 'RS256')
      } catch (error) {
        throw new GatewayError(500, 'INTERNAL_ERROR', `JWT_PUBLIC_KEY cannot be used: ${(error as Error).message}`)
      }
    } else if (source?.kind === 'secret') {
      key = new TextEncoder().encode(source.secret)
    }
    return new Authenticator(config, key)
  }

  async authenticate (headers: IncomingHttpHeaders): Promise<Caller> {
    const apiKey = headers['x-api-key']
    const authorization = headers.authorization
    if (apiKey !== undefined && this.keyDigests.length > 0) return this.service(Array.isArray(apiKey) ? apiKey[0] ?? '' : apiKey)
    if (authorization !== undefined && this.jwtKey !== undefined) return this.user(authorization)
    if (this.config.disabled) return { kind: 'anonymous' }
    const accepted = [this.keyDigests.length > 0 && 'an x-api-key header', this.jwtKey !== undefined && 'an Authorization: Bearer token'].filter(Boolean)
    throw unauthenticated(`credentials required: send ${accepted.join(' or ')}`, this.jwtKey !== undefined && {})
  }

  private service (presented: string): Caller {
    const presentedDigest = digest(presented)
    let name: string | undefined
    for (const candidate of this.keyDigests) {
      if (timingSafeEqual(candidate.digest, presentedDigest)) name = candidate.name
    }
    if (name === undefined) throw unauthenticated('the x-api-key is not valid', false)
    return { kind: 'service', name }
  }

  private async user (authorization: string): Promise<Caller> {
    const jwt = this.config.jwt!
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match === null) throw unauthenticated('the Authorization header must be "Bearer <token>"', { error: 'invalid_request' })
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(match[1]!, this.jwtKey as Parameters<typeof jwtVerify>[1], {
        algorithms: jwt.algorithms, issuer: jwt.issuer, audience: jwt.audience
      }))
    } catch (error) {
      throw tokenFailure(error)
    }
    const claim = payload[jwt.userIdClaim]
    if ((typeof claim !== 'string' && typeof claim !== 'number') || String(claim) === '') {
      throw unauthenticated(`the token has no usable "${jwt.userIdClaim}" claim`, { error: 'invalid_token' })
    }
    const subject = String(claim)
    return { kind: 'user', subject, userID: userIdFromSubject(subject, jwt.userIdMapping) }
  }
}

const invalidToken = { error: 'invalid_token' }

function tokenFailure (error: unknown): GatewayError {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || !(error instanceof joseErrors.JOSEError)) {
    return new GatewayError(503, 'AUTH_UNAVAILABLE', 'the identity provider\'s signing keys (JWT_JWKS_URL) cannot be fetched right now', {}, { 'retry-after': '5' })
  }
  if (error instanceof joseErrors.JWTExpired) return unauthenticated('the token has expired', invalidToken)
  if (error instanceof joseErrors.JWTClaimValidationFailed) return unauthenticated(`the token's "${error.claim}" claim is not accepted`, invalidToken)
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return unauthenticated('the token\'s signing algorithm is not accepted', invalidToken)
  if (error instanceof joseErrors.JWKSNoMatchingKey) return unauthenticated('the token is signed with a key the identity provider does not publish', invalidToken)
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated('the token\'s signature is not valid', invalidToken)
  return unauthenticated('the token is malformed', invalidToken)
}
