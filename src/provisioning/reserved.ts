import { GatewayError } from '../errors.js'

/**
 * OpenIM's admin and system accounts (config.openim.reservedUserIDs). Up to v3.8.0 OpenIM mints a token for
 * any userID with the secret, the admin's included, and that token is an admin token; newer servers refuse,
 * but only after the call. So every route that names a user asks here first, before any OpenIM call, for
 * services and end users alike, and always on the final userID (after any subject mapping).
 */
export function isReservedUserID (userID: string, reserved: ReadonlySet<string>): boolean {
  return reserved.has(userID)
}

/** Throws 403 RESERVED_USER_ID for a reserved userID. */
export function assertNotReserved (userID: string, reserved: ReadonlySet<string>): void {
  if (isReservedUserID(userID, reserved)) {
    throw new GatewayError(403, 'RESERVED_USER_ID', `"${userID}" is an OpenIM admin or system account (OPENIM_ADMIN_USER_ID, OPENIM_RESERVED_USER_IDS): the gateway never provisions, revokes or changes it`)
  }
}
