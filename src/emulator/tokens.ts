import { SignJWT, errors as joseErrors, jwtVerify } from 'jose'
import { ApiError } from './envelope.js'
import type { Behaviour } from './modes.js'

export interface Claims { userID: string, platformID: number, exp: number }

type Status = 'normal' | 'kicked'

/**
 * OpenIM's tokens: HS256 JWTs signed with the raw secret (claims UserID, PlatformID, exp, and the mode's
 * iat/nbf), whose status OpenIM also keeps in Redis. A valid signature is not enough (CONTRACT.md §6).
 */
export class TokenStore {
  private readonly key: Uint8Array
  private readonly statuses = new Map<string, { claims: Claims, status: Status }>()
  private readonly byPair = new Map<string, Set<string>>()
  // v3.8.2+ do not store the admin's tokens; they live until exp unless a test kicks them.
  private readonly kickedAdminTokens = new Set<string>()

  /** `behaviour` is asked on every mint and check: the emulator's mode can change in place (an upgrade). */
  constructor (private readonly behaviour: () => Behaviour, private readonly adminUserID: string, secret: string,
    private readonly lifetimeSeconds: number, private readonly nowSeconds: () => number) {
    this.key = new TextEncoder().encode(secret)
  }

  get lifetime (): number { return this.lifetimeSeconds }

  async mint (userID: string, platformID: number): Promise<string> {
    const now = this.nowSeconds()
    const exp = now + this.lifetimeSeconds
    // tools' BuildClaims: nbf = now − 5 min up to v3.8.2; from v3.8.3 iat = now − 5 s and no nbf.
    const times = this.behaviour().notBeforeClaim ? { exp, nbf: now - 300, iat: now } : { exp, iat: now - 5 }
    const token = await new SignJWT({ UserID: userID, PlatformID: platformID, ...times })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(this.key)
    if (this.isUnstoredAdmin(userID)) return token
    if (this.behaviour().mintKicks) this.kickPair(userID, platformID)
    this.statuses.set(token, { claims: { userID, platformID, exp }, status: 'normal' })
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
    if (this.kickedAdminTokens.has(token)) throw new ApiError(1506, 'token has been kicked')
    // The bypass is keyed on the admin userID, whatever the platform.
    if (this.isUnstoredAdmin(claims.userID)) return claims
    if (stored === undefined) throw new ApiError(1507, 'token does not exist')
    if (stored.status === 'kicked') throw new ApiError(1506, 'token has been kicked')
    return claims
  }

  /** /auth/force_logout: from v3.8.0 the platform's tokens are marked kicked; before, only connections drop. */
  forceLogout (userID: string, platformID: number): void {
    if (this.behaviour().forceLogoutKicks) this.kickPair(userID, platformID)
  }

  /**
   * How many tokens OpenIM keeps for a user and platform: the fields of its Redis hash TOKEN:<userID>:<platformID>.
   * Up to v3.8.0 every admin-token mint adds one, and every admin call reads them all.
   */
  storedCount (userID: string, platformID: number): number {
    return this.byPair.get(pairKey(userID, platformID))?.size ?? 0
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

  private isUnstoredAdmin (userID: string): boolean {
    return this.behaviour().adminTokensUnstored && userID === this.adminUserID
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
