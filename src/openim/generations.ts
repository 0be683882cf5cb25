// The two shapes of OpenIM's REST API (see shared CONTRACT.md §1). Everything that differs between them
// lives here, so the client and the provisioning flow are written once.
export type Generation = 'current' | 'legacy'

export const ADMIN_PLATFORM_ID = 10

export interface TokenData {
  token: string
  /** The token's lifetime in seconds (not an absolute time). */
  expireTimeSeconds: number
}

export interface RegisterUser {
  userID: string
  nickname: string
  faceURL?: string
  ex?: string
}

export interface DialectRequest { path: string, body: Record<string, unknown>, needsAdminToken: boolean }

export interface Dialect {
  generation: Generation
  adminToken (secret: string, adminUserID: string): DialectRequest
  register (users: RegisterUser[], secret: string): DialectRequest
  userToken (userID: string, platformID: number, secret: string): DialectRequest
}

export const current: Dialect = {
  generation: 'current',
  adminToken: (secret, userID) => ({ path: '/auth/get_admin_token', body: { secret, userID }, needsAdminToken: false }),
  register: (users) => ({ path: '/user/user_register', body: { users }, needsAdminToken: true }),
  userToken: (userID, platformID) => ({ path: '/auth/get_user_token', body: { platformID, userID }, needsAdminToken: true })
}

export const legacy: Dialect = {
  generation: 'legacy',
  adminToken: (secret, userID) =>
    ({ path: '/auth/user_token', body: { secret, platformID: ADMIN_PLATFORM_ID, userID }, needsAdminToken: false }),
  register: (users, secret) => ({ path: '/user/user_register', body: { secret, users }, needsAdminToken: false }),
  userToken: (userID, platformID, secret) => ({ path: '/auth/user_token', body: { secret, platformID, userID }, needsAdminToken: false })
}

export const dialects: Record<Generation, Dialect> = { current, legacy }

/**
 * A request that tells whether OpenIM's routes are at a URL, in every release: parse_token is public, and a
 * malformed token (sent without a token header) gets a token errCode (1503, or 1505 up to v3.6) from the auth
 * service. At a path OpenIM lacks, v3.8+'s token middleware answers 1001 first, older releases gin's 404.
 */
export const ROUTE_PROBE = { path: '/auth/parse_token', body: { token: 'gateway.probe.not-a-token' } } as const

export const otherGeneration = (generation: Generation): Generation => generation === 'current' ? 'legacy' : 'current'

/** How long an admin token is reused on a current server unless OPENIM_ADMIN_TOKEN_TTL_SECONDS says otherwise. */
export const CURRENT_ADMIN_TOKEN_REUSE_MS = 240_000
const DAY_MS = 86_400_000

/**
 * How long to reuse an admin token that lives `lifetimeMs`, by generation (CONTRACT.md §6, admin tokens).
 * Legacy (v3.0 – v3.8.0): every mint is one more field OpenIM keeps in its Redis hash TOKEN:<admin>:10 for the
 * token's whole life, every admin call reads the whole hash, and nothing kicks an admin token: reuse it until a
 * day before it expires (for half its life when that is under two days). Current: a few minutes, as openim-chat
 * does (v3.8.1 keeps only the 30 newest; the next line makes older admin tokens die soon after a newer one).
 */
export function adminTokenReuseMs (generation: Generation, lifetimeMs: number): number {
  if (generation === 'current') return CURRENT_ADMIN_TOKEN_REUSE_MS
  return lifetimeMs >= 2 * DAY_MS ? lifetimeMs - DAY_MS : lifetimeMs / 2
}

/** How each generation spells accountStatus in account_check answers (CONTRACT.md §3). */
export const ACCOUNT_STATUS: Record<Generation, { registered: unknown, unregistered: unknown }> = {
  current: { registered: 1, unregistered: 0 },
  legacy: { registered: 'registered', unregistered: 'unregistered' }
}

/** accountStatus is "registered"/"unregistered" up to v3.8.0 and 1/0 from v3.8.1; accept either from both. */
export function parseAccountStatus (value: unknown): boolean | undefined {
  if (value === 'registered' || value === 1) return true
  if (value === 'unregistered' || value === 0) return false
  return undefined
}

export const MAX_USER_ID_LENGTH = 64

/** OpenIM's rule for new userIDs from v3.8.0 (protocol v0.0.69 `UserRegisterReq.Check`), in words for callers. */
export const STRICT_USER_ID_RULE = 'OpenIM v3.8.0+ accepts only letters, digits and "_" in a new userID (no "-", ".", "@", ":" or spaces)'

/**
 * What no OpenIM version holds in a userID, so it is refused before any call: empty, longer than v3.0–v3.4's
 * varchar(64), with ":" (refused at registration by every version), or not well-formed Unicode (held as another
 * userID). Returns what is wrong, or undefined.
 */
export function basicUserIdProblem (userID: string): string | undefined {
  if (userID.length === 0) return 'userID must not be empty'
  if ([...userID].length > MAX_USER_ID_LENGTH) return `userID must be at most ${MAX_USER_ID_LENGTH} characters`
  if (userID.includes(':')) return 'OpenIM refuses ":" in a userID'
  // OpenIM (Go's JSON decoder) stores a lone UTF-16 surrogate as U+FFFD: "a\ud800" and "a\udc00" would be one account.
  if (!userID.isWellFormed()) return 'userID must be well-formed Unicode (no lone UTF-16 surrogate, such as a \\ud800 escape alone)'
  return undefined
}

/**
 * The rules for registering a new userID on a generation (CONTRACT.md §4), checked before user_register
 * because OpenIM's own refusal is a misleading 1001. Existing users are never held to them: OpenIM checks the
 * format only when registering, and a server upgraded from v3.7 keeps IDs such as "user-1". A legacy server
 * may be v3.8.0, which has the strict rule too: its refusal is mapped in src/errors.ts.
 */
export function userIdProblem (userID: string, generation: Generation): string | undefined {
  const problem = basicUserIdProblem(userID)
  if (problem !== undefined || generation === 'legacy') return problem
  // Go's unicode.IsLetter / unicode.IsDigit, as OpenIM checks them.
  return /^[\p{L}\p{Nd}_]+$/u.test(userID) ? undefined : STRICT_USER_ID_RULE
}
