import { createHash, hash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { JWTPayload } from 'jose'
import { Check } from 'typebox/value'
import type { AuthConfig } from '../config/index.js'
import { GatewayError } from '../errors.js'
import { userIdProblem } from '../openim/generations.js'
import type { NewUserProfile } from '../provisioning/registration.js'
import { JwtVerifier, bearerUnauthenticated } from './jwt.js'
import { FaceURL, Nickname } from './schemas/index.js'

/**
 * Who is calling: a service with an API key, an end user with a JWT, or nobody (AUTH_DISABLED). An end user's
 * profile is the nickname and faceURL of their token's claims (only values that pass the body's rules).
 */
export type Caller =
  | { kind: 'service', name: string }
  | { kind: 'user', subject: string, userID: string, profile: Pick<NewUserProfile, 'nickname' | 'faceURL'> }
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

const MAPPED_USER_ID = /^h_[0-9a-f]{40}$/

/**
 * Identity providers often use subjects OpenIM v3.8+ refuses (UUIDs with "-", "auth0|…"). With mapping
 * 'hash' such a subject becomes "h_" + the first 40 hex digits of its sha256: deterministic, 42 characters,
 * letters and digits only. Subjects OpenIM accepts are kept as they are, so existing accounts keep their
 * userID, except subjects that already look like a mapped userID. Those are refused whatever the mapping:
 * with 'hash' a user who picks such a name (JWT_USER_ID_CLAIM=preferred_username) would receive the token of
 * the subject that maps to it, and with 'none' they could create that account in advance and still hold a
 * token for it once the operator switches to 'hash'. The mapping is unkeyed on purpose (re-keying it would
 * orphan every account already mapped), so anyone can compute it: the namespace must stay closed to end users.
 */
export function userIdFromSubject (subject: string, mapping: 'none' | 'hash'): string {
  if (MAPPED_USER_ID.test(subject)) {
    throw bearerUnauthenticated('the token\'s subject has the form of a mapped userID ("h_" + 40 hex digits), ' +
      'which is reserved for mapped subjects', 'invalid_token')
  }
  if (mapping === 'none' || userIdProblem(subject, 'current') === undefined) return subject
  return `h_${createHash('sha256').update(subject).digest('hex').slice(0, 40)}`
}

// One-shot: no Hash object per request (the key is digested on every request that carries one).
const digest = (value: string) => hash('sha256', value, 'buffer')

/** A claim's value when it passes the same rules as the request body's field, else nothing. */
function claimValue (payload: JWTPayload, claim: string, schema: typeof Nickname | typeof FaceURL): string | undefined {
  const value = payload[claim]
  return typeof value === 'string' && Check(schema, value) ? value : undefined
}

export class Authenticator {
  // API keys are compared as sha256 digests with timingSafeEqual, over every configured key, so neither
  // a key's length nor which key matched shows in the timing.
  private readonly keyDigests: Array<{ name: string, digest: Buffer }>

  private constructor (private readonly config: AuthConfig, private readonly jwtVerifier?: JwtVerifier) {
    this.keyDigests = config.apiKeys.map(({ name, key }) => ({ name, digest: digest(key) }))
  }

  static async create (config: AuthConfig): Promise<Authenticator> {
    return new Authenticator(config, config.jwt === undefined ? undefined : await JwtVerifier.create(config.jwt))
  }

  /**
   * The caller the headers name, or a 401 (thrown). An API key is settled at once, without a promise (services
   * call on every request); a bearer token is verified asynchronously (its keys may have to be fetched).
   */
  authenticate (headers: IncomingHttpHeaders): Caller | Promise<Caller> {
    const apiKey = headers['x-api-key']
    const authorization = headers.authorization
    // With both, the key wins: a backend that forwards its users' Authorization header acts as itself (documented).
    if (apiKey !== undefined && this.keyDigests.length > 0) return this.service(Array.isArray(apiKey) ? apiKey[0] ?? '' : apiKey)
    if (authorization !== undefined && this.jwtVerifier !== undefined) return this.user(authorization)
    if (this.config.disabled) return { kind: 'anonymous' }
    const accepted = [
      this.keyDigests.length > 0 && 'an x-api-key header',
      this.jwtVerifier !== undefined && 'an Authorization: Bearer token'
    ].filter(Boolean)
    const message = `credentials required: send ${accepted.join(' or ')}`
    throw this.jwtVerifier === undefined ? new GatewayError(401, 'UNAUTHENTICATED', message) : bearerUnauthenticated(message)
  }

  /** Whether the request carries a valid API key (the auth-failure limit never holds those back). */
  hasValidApiKey (headers: IncomingHttpHeaders): boolean {
    const apiKey = headers['x-api-key']
    return apiKey !== undefined && this.keyName(Array.isArray(apiKey) ? apiKey[0] ?? '' : apiKey) !== undefined
  }

  private service (presented: string): Caller {
    const name = this.keyName(presented)
    if (name === undefined) throw new GatewayError(401, 'UNAUTHENTICATED', 'the x-api-key is not valid')
    return { kind: 'service', name }
  }

  private keyName (presented: string): string | undefined {
    const presentedDigest = digest(presented)
    let name: string | undefined
    for (const candidate of this.keyDigests) {
      if (timingSafeEqual(candidate.digest, presentedDigest)) name = candidate.name
    }
    return name
  }

  private async user (authorization: string): Promise<Caller> {
    const jwt = this.config.jwt!
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match === null) throw bearerUnauthenticated('the Authorization header must be "Bearer <token>"', 'invalid_request')
    const payload = await this.jwtVerifier!.verify(match[1]!)
    const claim = payload[jwt.userIdClaim]
    if ((typeof claim !== 'string' && typeof claim !== 'number') || String(claim) === '') {
      throw bearerUnauthenticated(`the token has no usable "${jwt.userIdClaim}" claim`, 'invalid_token')
    }
    // JSON.parse rounds integers beyond 2^53, so 12345678901234567890 and …891 would both arrive as
    // 12345678901234567000: two users, one account. Only a string carries such an ID exactly.
    if (typeof claim === 'number' && !Number.isSafeInteger(claim)) {
      throw bearerUnauthenticated(`the token's "${jwt.userIdClaim}" claim is a number that JSON cannot carry exactly ` +
        '(beyond 2^53, or not a whole number): the identity provider must send it as a string', 'invalid_token')
    }
    const subject = String(claim)
    // Another subject once OpenIM replaced the lone surrogate with U+FFFD: like every claim problem, the token's.
    if (!subject.isWellFormed()) {
      throw bearerUnauthenticated(`the token's "${jwt.userIdClaim}" claim is not well-formed Unicode (a lone UTF-16 surrogate)`,
        'invalid_token')
    }
    const profile = {
      nickname: claimValue(payload, jwt.nicknameClaim, Nickname),
      faceURL: claimValue(payload, jwt.faceUrlClaim, FaceURL)
    }
    return { kind: 'user', subject, userID: userIdFromSubject(subject, jwt.userIdMapping), profile }
  }
}
