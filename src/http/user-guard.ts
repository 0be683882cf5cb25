import type { FastifyRequest } from 'fastify'
import { ForbiddenUser, ReservedUserId, ServicesOnly, UserIdRequired } from '../provisioning/errors.js'
import { audit, failureOutcome } from './audit.js'
import type { Caller } from './auth.js'

// The per-user guards, in one place: which userID a caller may act on (an end user only their own; some routes
// services only), never an OpenIM admin or system account, and the audit line a refusal writes. Every route
// that names a user takes its userID from userToActOn before any OpenIM call (test/http/user-guard.test.ts
// checks every such route of the OpenAPI document).

/**
 * OpenIM's admin and system accounts (config.openim.reservedUserIDs). Up to v3.8.0 OpenIM mints a token for
 * any userID with the secret, the admin's included, and that token is an admin token; newer servers refuse,
 * but only after the call. Also how an import screens its rows.
 *
 * Matched loosely (reservedKey): up to v3.4 OpenIM keeps users in MySQL under utf8mb4_unicode_ci, where
 * "IMADMIN", "imAdmin " and "ímAdmin" are the admin's own row; on later versions they are other users that read
 * as the admin to everyone in a chat.
 */
export function isReservedUserID (userID: string, reserved: ReadonlySet<string>): boolean {
  return reservedKeys(reserved).has(reservedKey(userID))
}

/** Compatibility-decomposed, without marks or default-ignorable characters, trimmed and lower-cased. */
function reservedKey (userID: string): string {
  return userID.normalize('NFKD').replace(/[\p{M}\p{Default_Ignorable_Code_Point}]/gu, '').trim().toLowerCase()
}

// The configured set is built once at start-up; its keys are worked out once per set.
const keysOf = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>()
function reservedKeys (reserved: ReadonlySet<string>): ReadonlySet<string> {
  let keys = keysOf.get(reserved)
  if (keys === undefined) {
    keys = new Set([...reserved].map(reservedKey))
    keysOf.set(reserved, keys)
  }
  return keys
}

export interface UserTarget {
  /** The userID the request names (in its body or path); an end user's token implies it when absent. */
  requested: string | undefined
  /** For routes that change something: the audit line a refusal writes (reads write none). */
  audit?: { action: string, platformID?: number | number[] }
}

/**
 * The userID a route acts on: the one a service names, or an end user's own (after JWT_USER_ID_MAPPING);
 * refused when an end user names another, when nobody names one, or when it is reserved, for services and end
 * users alike. A refusal of a state-changing request is audited.
 */
export function userToActOn (request: FastifyRequest, target: UserTarget): string {
  try {
    const userID = ownUserID(request.caller, target.requested)
    if (isReservedUserID(userID, request.server.config.openim.reservedUserIDs)) throw new ReservedUserId(userID)
    return userID
  } catch (error) {
    if (target.audit !== undefined) {
      const { action, platformID } = target.audit
      const named = target.requested ?? (request.caller?.kind === 'user' ? request.caller.userID : '')
      audit(request, { action, target: named, ...(platformID !== undefined && { platformID }), ...failureOutcome(error) })
    }
    throw error
  }
}

/**
 * onRequest hook for routes only services may call (API keys, or anyone when AUTH_DISABLED=true): an end
 * user's token acts on its own user only and never in bulk. Runs before the body is read.
 */
export async function servicesOnly (request: FastifyRequest): Promise<void> {
  if (request.caller?.kind === 'user') throw new ServicesOnly()
}

function ownUserID (caller: Caller | undefined, requested: string | undefined): string {
  // Only routes in the authenticated scope name a user; without a caller the route was registered wrongly.
  if (caller === undefined) throw new Error('userToActOn called on a route outside the authenticated scope')
  if (caller.kind === 'user') {
    if (requested !== undefined && requested !== caller.userID) throw new ForbiddenUser()
    return caller.userID
  }
  if (requested === undefined) throw new UserIdRequired()
  return requested
}
