import { OpenImError } from './errors.js'
import type { TokenData } from './generations.js'

// What OpenIM answers about tokens, checked before anything is built on it: a mint reports the token's
// LIFETIME in seconds, /auth/parse_token its ABSOLUTE expiry in Unix seconds (CONTRACT.md §3).

// OpenIM computes the lifetime from tokenPolicy.expire (days); a century is far past any sane setting.
export const MAX_TOKEN_LIFETIME_SECONDS = 100 * 365 * 86_400

/** What /auth/parse_token says about a token OpenIM holds as live. */
export interface ParsedToken {
  userID: string
  platformID: number
  /** The token's own expiry, in ms since the epoch. */
  expiresAt: number
}

/** A mint's answer (user or admin token). */
export function tokenData (path: string, data: unknown): TokenData {
  const candidate = data as Partial<TokenData> | undefined
  if (typeof candidate?.token !== 'string' || candidate.token === '' || typeof candidate.expireTimeSeconds !== 'number') {
    throw new OpenImError('bad_response', path, 'OpenIM answered a token call without token and expireTimeSeconds')
  }
  // A lifetime that is not a whole positive number of seconds (1e308, negative, fractional) would become an
  // expiresAt in the past or an invalid date, and an admin token cached for no time or forever.
  const lifetime = candidate.expireTimeSeconds
  if (!Number.isInteger(lifetime) || lifetime <= 0 || lifetime > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new OpenImError('bad_response', path, `OpenIM answered a token call with an implausible expireTimeSeconds (${lifetime})`)
  }
  return { token: candidate.token, expireTimeSeconds: lifetime }
}

// Up to v3.6 parse_token names the platform (protocol constant.PlatformID2Name) instead of numbering it.
const PLATFORM_NAMES: Record<string, number> = {
  IOS: 1, Android: 2, Windows: 3, OSX: 4, Web: 5, MiniWeb: 6, Linux: 7, APad: 8, IPad: 9, Admin: 10
}

/** /auth/parse_token's answer: `{userID, platformID (v3.7+) or platform (a name, before), expireTimeSeconds}`. */
export function parsedToken (path: string, data: unknown, nowMs: number): ParsedToken {
  const candidate = data as { userID?: unknown, platformID?: unknown, platform?: unknown, expireTimeSeconds?: unknown } | undefined
  const platformID = typeof candidate?.platformID === 'number'
    ? candidate.platformID
    : typeof candidate?.platform === 'string' ? PLATFORM_NAMES[candidate.platform] : undefined
  if (typeof candidate?.userID !== 'string' || !Number.isInteger(platformID) || typeof candidate.expireTimeSeconds !== 'number') {
    throw new OpenImError('bad_response', path, 'OpenIM answered parse_token without userID, platformID and expireTimeSeconds')
  }
  // An absolute time: in the past means the clocks disagree (OpenIM would have said 1501), beyond a lifetime
  // from now it is not a time at all (a lifetime, say, read as a date in 1970 would be in the past).
  const expiresAt = candidate.expireTimeSeconds * 1000
  if (!Number.isInteger(candidate.expireTimeSeconds) || expiresAt <= nowMs || expiresAt > nowMs + MAX_TOKEN_LIFETIME_SECONDS * 1000) {
    throw new OpenImError('bad_response', path,
      `OpenIM answered parse_token with an implausible expireTimeSeconds (${candidate.expireTimeSeconds})`)
  }
  return { userID: candidate.userID, platformID: platformID as number, expiresAt }
}
