// What the gateway's own rules refuse, as typed errors that say what went wrong and carry no HTTP: src/errors.ts
// alone decides the status, code and headers each is answered with. The message is the caller's explanation.

/** The user named does not exist in OpenIM. */
export class UserNotFound extends Error {
  override readonly name = 'UserNotFound'
  constructor (readonly userID: string) {
    super(`OpenIM has no user "${userID}"`)
  }
}

/**
 * One of OpenIM's admin or system accounts (config.openim.reservedUserIDs): up to v3.8.0 OpenIM mints a token
 * for any userID with the secret, the admin's included, and that token is an admin token.
 */
export class ReservedUserId extends Error {
  override readonly name = 'ReservedUserId'
  constructor (readonly userID: string) {
    super(`"${userID}" is an OpenIM admin or system account (OPENIM_ADMIN_USER_ID, OPENIM_RESERVED_USER_IDS): ` +
      'the gateway never provisions, revokes or changes it')
  }
}

/**
 * A userID that breaks OpenIM's format rule (`problem` says which). `claim`: the userID is an end user's token
 * claim, taken as it is (JWT_USER_ID_MAPPING=none), so the operator is pointed at the mapping.
 */
export class InvalidUserId extends Error {
  override readonly name = 'InvalidUserId'
  constructor (readonly problem: string, readonly claim?: string) {
    super(claim === undefined
      ? problem
      : `${problem}; this userID is the token's "${claim}" claim: ` +
        'set JWT_USER_ID_MAPPING=hash to map such subjects to valid OpenIM userIDs')
  }
}

/** An end user named a userID other than their own. */
export class ForbiddenUser extends Error {
  override readonly name = 'ForbiddenUser'
  constructor () {
    super('an end user may only act on their own userID (the one in their token)')
  }
}

/** An end user called a route only services may call. */
export class ServicesOnly extends Error {
  override readonly name = 'ServicesOnly'
  constructor () {
    super('only services (x-api-key) may call this route; end-user tokens may not')
  }
}

/** A service (or an anonymous caller) named no userID: only an end user's token implies one. */
export class UserIdRequired extends Error {
  override readonly name = 'UserIdRequired'
  constructor () {
    super('body must have required property \'userID\' (only end-user tokens imply it)')
  }
}

/** The caller's deadline (REQUEST_DEADLINE_MS) passed while OpenIM worked on its request. */
export class RequestDeadlineExceeded extends Error {
  override readonly name = 'RequestDeadlineExceeded'
  constructor () {
    super('OpenIM did not finish this request within its deadline (REQUEST_DEADLINE_MS)')
  }
}

/** An import's deadline passed before OpenIM answered its account_check: nothing was imported. */
export class ImportDeadlineExceeded extends Error {
  override readonly name = 'ImportDeadlineExceeded'
  constructor (readonly deadlineMs: number) {
    super(`OpenIM did not answer account_check within IMPORT_DEADLINE_MS (${deadlineMs} ms); nothing was imported`)
  }
}

/**
 * While Redis cannot be asked, this replica minted for the pair moments ago without the cross-replica lock, and that
 * token is no longer live (another replica minted too, unaware): minting again would only log that one out in turn.
 * Asked again once the lease has passed, or Redis is back, the gateway mints or hands out the live token.
 */
export class MintDeferred extends Error {
  override readonly name = 'MintDeferred'
  constructor (readonly retryAfterSeconds: number) {
    super('Redis is unavailable and this replica already minted a token for this user and platform, which another replica has ' +
      `replaced since; retry in ${retryAfterSeconds} s`)
  }
}

const DOMAIN_ERRORS = [
  UserNotFound, ReservedUserId, InvalidUserId, ForbiddenUser, ServicesOnly, UserIdRequired,
  RequestDeadlineExceeded, ImportDeadlineExceeded, MintDeferred
] as const

/** Every domain error: src/errors.ts maps each of them (the compiler checks that it misses none). */
export type DomainError = InstanceType<typeof DOMAIN_ERRORS[number]>

export function isDomainError (error: unknown): error is DomainError {
  return DOMAIN_ERRORS.some((type) => error instanceof type)
}
