import type { RawAnswer } from './diagnostics.js'
import { ErrCode, isUnknownRoute, type OpenImError } from './errors.js'
import { dialects, type Generation } from './generations.js'

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
  /** Seconds the token service back-dates iat by: the server's clock at a mint is iat + this. */
  iatBackdateSeconds: number
}

export const RELEASES: Record<Release, ReleaseFacts> = {
  'v3.8.1+': { generation: 'current', label: 'OpenIM v3.8.1 or later', strictUserIds: true, mintKicks: true, logoutKicks: true, iatBackdateSeconds: 5 },
  'v3.8.0': { generation: 'legacy', label: 'OpenIM v3.8.0', strictUserIds: true, mintKicks: false, logoutKicks: true, iatBackdateSeconds: 0 },
  'v3.0-v3.7': { generation: 'legacy', label: 'OpenIM v3.0 – v3.7', strictUserIds: false, mintKicks: false, logoutKicks: false, iatBackdateSeconds: 0 }
}

export type Detection =
  | { found: true, release: Release, /** the admin-token answer the detection got, reused by later checks */ adminMint: RawAnswer }
  /** Neither admin-token route exists at this URL (`answers`: both tries), or something other than OpenIM answered. */
  | { found: false, problem: 'unknown_routes' | 'not_openim', answers: RawAnswer[] }

/**
 * Which release answers, from how it treats the two admin-token routes (CONTRACT.md §1). get_admin_token
 * answering anything of OpenIM's own (0, 1002 wrong secret, 1001 wrong admin) is v3.8.1+. Where it does
 * not exist, v3.8.0's global token check answers 1001 "header must have token" while older releases
 * answer gin's plain 404; /auth/user_token with the secret must then answer as a route of theirs.
 */
export async function detectRelease (openim: RawPoster, secret: string, adminUserID: string): Promise<Detection> {
  const currentRequest = dialects.current.adminToken(secret, adminUserID)
  const currentAnswer = await openim.post(currentRequest.path, currentRequest.body)
  const currentMissing = missingRoute(currentAnswer)
  if (currentMissing === undefined) {
    return speaksOpenIm(currentAnswer)
      ? { found: true, release: 'v3.8.1+', adminMint: currentAnswer }
      : { found: false, problem: 'not_openim', answers: [currentAnswer] }
  }
  const legacyRequest = dialects.legacy.adminToken(secret, adminUserID)
  const legacyAnswer = await openim.post(legacyRequest.path, legacyRequest.body)
  if (missingRoute(legacyAnswer) !== undefined) return { found: false, problem: 'unknown_routes', answers: [currentAnswer, legacyAnswer] }
  if (!speaksOpenIm(legacyAnswer)) return { found: false, problem: 'not_openim', answers: [currentAnswer, legacyAnswer] }
  return { found: true, release: currentMissing === 'token_required' ? 'v3.8.0' : 'v3.0-v3.7', adminMint: legacyAnswer }
}

/** How a route is missing: gin's 404, or v3.8+'s token check answering for a route it does not know. */
function missingRoute (answer: RawAnswer): 'not_found' | 'token_required' | undefined {
  if (answer.outcome.ok || !isUnknownRoute(answer.outcome.error)) return undefined
  return answer.outcome.error.kind === 'bad_response' ? 'not_found' : 'token_required'
}

/** OpenIM's envelope came back (data or an errCode), not a proxy page or another server's answer. */
const speaksOpenIm = (answer: RawAnswer) => answer.outcome.ok || answer.outcome.error.kind === 'rejected'

/** Which admin setting an admin-token refusal points at, by release (CONTRACT.md §1, §5; auth.go). */
export type AdminRefusal = 'secret' | 'admin_not_listed' | 'admin_missing' | 'secret_or_admin' | 'other'

export function adminRefusal (release: Release, error: OpenImError): AdminRefusal {
  const code = error.errCode
  // 1004 on v3.8.3-patch, 1101 before: the userID is not an OpenIM user at all.
  if (code === ErrCode.RecordNotFound || code === USER_ID_NOT_FOUND) return 'admin_missing'
  if (RELEASES[release].generation === 'current') {
    // get_admin_token checks the secret (1002) before the userID against imAdminUserID (1001).
    if (code === ErrCode.NoPermission) return 'secret'
    if (code === ErrCode.Args) return 'admin_not_listed'
    return 'other'
  }
  // /auth/user_token answers 1002 only for the secret ("secret invalid"); it has no admin guard at all.
  if (code === ErrCode.NoPermission) return /secret/i.test(error.details.errDlt ?? '') ? 'secret' : 'secret_or_admin'
  return 'other'
}

const USER_ID_NOT_FOUND = 1101
