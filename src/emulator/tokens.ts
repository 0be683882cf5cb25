import { SignJWT, errors as joseErrors, jwtVerify } from 'jose'
import { ApiError } from './envelope.js'
import type { EmulatorMode } from './emulator.js'

export interface Claims { userID: string, platformID: number, exp: number }

type Status = 'normal' | 'kicked'

const ADMIN_PLATFORM_ID = 10
const CURRENT_IAT_BACKDATE_SECONDS = 5

/**
 * OpenIM's tokens: HS256 JWTs signed with the raw secret (claims UserID, PlatformID, exp, iat, and nbf up
 * to v3.8.2), whose status OpenIM also keeps in Redis. A valid signature is not enough (CONTRACT.md §6).
 */
export class TokenStore {
  private readonly key: Uint8Array
  private readonly statuses = new Map<string, { claims: Claims, status: Status }>()
  private readonly byPair = new Map<string, Set<string>>()
  // v3.8.2–v3.8.3-patch do not store admin tokens; they live until exp unless a test kicks them.
  private readonly kickedAdminTokens = new Set<string>()

  constructor (private readonly mode: EmulatorMode, secret: string, private readonly lifetimeSeconds: number,
    private readonly nowSeconds: () => number) {
    this.key = new TextEncoder().encode(secret)
  }

  get lifetime (): number { return this.lifetimeSeconds }

  async mint (userID: string, platformID: number, isAdmin: boolean): Promise<string> {
    const now = this.nowSeconds()
    // Current OpenIM (tools v0.0.50) back-dates iat by 5 s and sets no nbf; legacy stamps iat now.
    const iat = this.mode === 'current' ? now - CURRENT_IAT_BACKDATE_SECONDS : now
    const exp = now + this.lifetimeSeconds
    const payload: Record<string, unknown> = { UserID: userID, PlatformID: platformID, exp, iat }
    if (this.mode === 'legacy') payload.nbf = iat
    const token = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(this.key)
    const claims = { userID, platformID, exp }
    if (this.mode === 'current' && isAdmin && platformID === ADMIN_PLATFORM_ID) return token
    // From v3.8.1 minting a token kicks every earlier token of the same (user, platform).
    if (this.mode === 'current') this.kickPair(userID, platformID)
    this.statuses.set(token, { claims, status: 'normal' })
    const pair = pairKey(userID, platformID)
    const tokens = this.byPair.get(pair) ?? new Set()
    tokens.add(token)
    this.byPair.set(pair, tokens)
    return token
  }

  /** Verifies signature, time claims and stored status; throws the errCode OpenIM would answer. */
  async verify (token: string): Promise<Claims> {
    const stored = this.statuses.get(token)
    let claims: Claims
    if (stored !== undefined) {
      claims = stored.claims
      if (claims.exp <= this.nowSeconds()) throw new ApiError(1501, 'token expired')
    } else {
      claims = await this.verifySignature(token)
    }
    if (stored?.status === 'kicked' || this.kickedAdminTokens.has(token)) throw new ApiError(1506, 'token has been kicked')
    const unstoredAdmin = this.mode === 'current' && claims.platformID === ADMIN_PLATFORM_ID
    if (stored === undefined && !unstoredAdmin) throw new ApiError(1507, 'token does not exist')
    return claims
  }

  /** /auth/force_logout: from v3.8 the platform's tokens are marked kicked; before, only connections drop. */
  forceLogout (userID: string, platformID: number): void {
    if (this.mode === 'current') this.kickPair(userID, platformID)
  }

  /** Test hook: every token is forgotten, as after OpenIM's Redis was flushed (answers become 1507). */
  flush (): void {
    this.statuses.clear()
    this.byPair.clear()
  }

  /** Test hook: kicks one token, admin or not (as current OpenIM main does to older admin tokens). */
  kick (token: string): void {
    const stored = this.statuses.get(token)
    if (stored !== undefined) stored.status = 'kicked'
    else this.kickedAdminTokens.add(token)
  }

  private kickPair (userID: string, platformID: number): void {
    for (const token of this.byPair.get(pairKey(userID, platformID)) ?? []) {
      const stored = this.statuses.get(token)
      if (stored !== undefined) stored.status = 'kicked'
    }
  }

  private async verifySignature (token: string): Promise<Claims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], currentDate: new Date(this.nowSeconds() * 1000) })
      if (typeof payload.UserID !== 'string' || typeof payload.PlatformID !== 'number' || typeof payload.exp !== 'number') {
        throw new ApiError(1503, 'token claims malformed')
      }
      return { userID: payload.UserID, platformID: payload.PlatformID, exp: payload.exp }
    } catch (error) {
      if (error instanceof ApiError) throw error
      if (error instanceof joseErrors.JWTExpired) throw new ApiError(1501, 'token expired')
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') throw new ApiError(1504, 'token not valid yet')
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new ApiError(1505, 'token signature invalid')
      throw new ApiError(1503, 'token malformed')
    }
  }
}

const pairKey = (userID: string, platformID: number) => `${platformID}\u0000${userID}`
