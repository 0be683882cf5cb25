import type { RawAnswer } from './diagnostics.js'
import { ErrCode, isNotFound, isTokenErrCode, mayBeMissingRoute, type OpenImError } from './errors.js'
import { ROUTE_PROBE, dialects, type Generation } from './generations.js'

/** Raw POSTs to OpenIM (OpenImDiagnostics, or something that records its answers on the way). */
export interface RawPoster { post (path: string, body: unknown): Promise<RawAnswer> }

/** The OpenIM releases the protocol tells apart (CONTRACT.md §1, §3, §4, §6). */
export type Release = 'v3.8.1+' | 'v3.8.0' | 'v3.0-v3.7'

export interface ReleaseFacts {
  generation: Generation
  label: string
  /** Only letters, digits and "_" in a userID (v3.8.0 and later). */
  strictUserIds: boolean
  /** Minting a token kicks the earlier tokens of the same user and platform (v3.8.1 and later). */
  mintKicks: boolean
  /** force_logout marks the platform's tokens kicked, not only its connections (v3.8 and later). */
  logoutKicks: boolean
}

export const RELEASES: Record<Release, ReleaseFacts> = {
  'v3.8.1+': { generation: 'current', label: 'OpenIM v3.8.1 or later', strictUserIds: true, mintKicks: true, logoutKicks: true },
  'v3.8.0': { generation: 'legacy', label: 'OpenIM v3.8.0', strictUserIds: true, mintKicks: false, logoutKicks: true },
  'v3.0-v3.7': { generation: 'legacy', label: 'OpenIM v3.0 – v3.7', strictUserIds: false, mintKicks: false, logoutKicks: false }
}

export type Detection =
  | { found: true, release: Release, /** the admin-token answer the detection got, reused by later checks */ adminMint: RawAnswer }
  /** Neither admin-token route exists at this URL (`answers`: both tries), or something other than OpenIM answered. */
  | { found: false, problem: 'unknown_routes' | 'not_openim', answers: RawAnswer[] }

/**
 * Which release answers, from how it treats the two admin-token routes (CONTRACT.md §1), by errCode and HTTP
 * status alone. get_admin_token answering as a route of its own (0, 1002 wrong secret, 1004/1101 no such user…)
 * is v3.8.1+. Where it may be missing (1001, which v3.8.0's global token check answers without a token, or
 * older releases' plain 404), /auth/user_token with the secret answering as a route of its own is a legacy
 * server: v3.8.0 when get_admin_token got 1001, older when it got 404.
 *
 * Both answering 1001 is either a v3.8.1+ server refusing OPENIM_ADMIN_USER_ID at get_admin_token (with
 * /auth/user_token gone), or any v3.8+ server at a wrong OPENIM_API_URL path, where the token check refuses
 * every path before routing. ROUTE_PROBE tells them apart.
 */
export async function detectRelease (openim: RawPoster, secret: string, adminUserID: string): Promise<Detection> {
  const currentRequest = dialects.current.adminToken(secret, adminUserID)
  const currentAnswer = await openim.post(currentRequest.path, currentRequest.body)
  if (!speaksOpenIm(currentAnswer)) return { found: false, problem: 'not_openim', answers: [currentAnswer] }
  if (!mayBeMissing(currentAnswer)) return { found: true, release: 'v3.8.1+', adminMint: currentAnswer }
  const legacyRequest = dialects.legacy.adminToken(secret, adminUserID)
  const legacyAnswer = await openim.post(legacyRequest.path, legacyRequest.body)
  const answers = [currentAnswer, legacyAnswer]
  if (!speaksOpenIm(legacyAnswer)) return { found: false, problem: 'not_openim', answers }
  if (!mayBeMissing(legacyAnswer)) {
    return { found: true, release: notFound(currentAnswer) ? 'v3.0-v3.7' : 'v3.8.0', adminMint: legacyAnswer }
  }
  if (notFound(currentAnswer) || !(await routesAnswer(openim))) return { found: false, problem: 'unknown_routes', answers }
  return { found: true, release: 'v3.8.1+', adminMint: currentAnswer }
}

/** ROUTE_PROBE answering a token errCode: OpenIM's routes are at this URL. */
async function routesAnswer (openim: RawPoster): Promise<boolean> {
  const answer = await openim.post(ROUTE_PROBE.path, ROUTE_PROBE.body)
  return !answer.outcome.ok && answer.outcome.error.kind === 'rejected' && isTokenErrCode(answer.outcome.error.errCode)
}

const notFound = (answer: RawAnswer) => !answer.outcome.ok && isNotFound(answer.outcome.error)
const mayBeMissing = (answer: RawAnswer) => !answer.outcome.ok && mayBeMissingRoute(answer.outcome.error)

/** OpenIM's envelope came back (data or an errCode) or gin's 404, not a proxy page or another server's answer. */
const speaksOpenIm = (answer: RawAnswer) => answer.outcome.ok || answer.outcome.error.kind === 'rejected' || notFound(answer)

/** Which admin setting an admin-token refusal points at, by release (CONTRACT.md §1, §5; auth.go). */
export type AdminRefusal = 'secret' | 'admin_not_listed' | 'admin_missing' | 'other'

export function adminRefusal (release: Release, error: OpenImError): AdminRefusal {
  const code = error.errCode
  // 1004 on v3.8.3-patch, 1101 before: the userID is not an OpenIM user at all.
  if (code === ErrCode.RecordNotFound || code === ErrCode.UserIDNotFound) return 'admin_missing'
  // get_admin_token checks the secret (1002) before the userID against imAdminUserID (1001). /auth/user_token
  // (v3.0.0 to v3.8.0, internal/rpc/auth/auth.go UserToken) answers 1002 for the secret alone: it has no admin guard.
  if (code === ErrCode.NoPermission) return 'secret'
  if (code === ErrCode.Args && RELEASES[release].generation === 'current') return 'admin_not_listed'
  return 'other'
}
