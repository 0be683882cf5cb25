// Every way a call to OpenIM can fail, typed so that exactly one place (src/errors.ts) turns it into an
// HTTP answer. This module knows nothing about HTTP status codes of the gateway.
export type OpenImFailureKind =
  | 'rejected' // HTTP 200 with errCode ≠ 0
  | 'auth_failed' // OpenIM refused the secret or the admin account
  | 'bad_response' // wrong HTTP status, empty, non-JSON or HTML body, unexpected shape
  | 'unavailable' // connection refused/reset, DNS failure
  | 'timeout' // OPENIM_TIMEOUT_MS exceeded, or the request's deadline passed before a connection came free
  | 'overloaded' // more calls already wait for a connection than OPENIM_MAX_PENDING_CALLS allows

export class OpenImError extends Error {
  override name = 'OpenImError'
  constructor (
    readonly kind: OpenImFailureKind,
    readonly path: string,
    message: string,
    /** errDlt is kept for classification only: it may hold a stack trace and never leaves the process. */
    readonly details: { errCode?: number, errMsg?: string, errDlt?: string, httpStatus?: number, /** ECONNREFUSED, CERT_HAS_EXPIRED… */ networkCode?: string } = {}
  ) {
    super(message)
  }

  get errCode (): number | undefined { return this.details.errCode }
}

export const ErrCode = {
  ServerInternal: 500,
  Args: 1001,
  NoPermission: 1002,
  DuplicateKey: 1003,
  RecordNotFound: 1004, // an unknown user on v3.8.3+
  UserIDNotFound: 1101, // an unknown user up to v3.8.2
  RegisteredAlready: 1102
} as const

/**
 * A route the server does not have: gin's plain 404, or (v3.8+, whose token middleware runs before
 * routing) 1001 "header must have token" on a call we sent without a token.
 */
export function isUnknownRoute (error: OpenImError): boolean {
  return (error.kind === 'bad_response' && error.details.httpStatus === 404) ||
    (error.errCode === ErrCode.Args && /header must have token/.test(error.details.errDlt ?? ''))
}

/** 1501–1507: the token is expired, invalid, malformed, not yet valid, unknown, kicked or gone. */
export const isTokenErrCode = (code: number | undefined) => code !== undefined && code >= 1501 && code <= 1507

// The names of the errCodes this path can meet (open-im-server pkg/common/servererrs/code.go; 4 and 14 are
// gRPC status codes an unavailable internal service lets through). Callers get these names, never OpenIM's
// free-text errMsg: it can carry details of OpenIM's internals.
const ERR_CODE_NAMES: Record<number, string> = {
  4: 'DeadlineExceeded',
  14: 'Unavailable',
  500: 'ServerInternalError',
  1000: 'UnknownError',
  1001: 'ArgsError',
  1002: 'NoPermissionError',
  1003: 'DuplicateKeyError',
  1004: 'RecordNotFoundError',
  1101: 'UserIDNotFoundError',
  1102: 'RegisteredAlreadyError',
  1501: 'TokenExpiredError',
  1502: 'TokenInvalidError',
  1503: 'TokenMalformedError',
  1504: 'TokenNotValidYetError',
  1505: 'TokenUnknownError',
  1506: 'TokenKickedError',
  1507: 'TokenNotExistError',
  90002: 'DatabaseError',
  90004: 'NetworkError'
}

/** The name of an OpenIM errCode, from our own table; "UnknownError" for codes it does not know. */
export function errCodeName (errCode: number | undefined): string {
  return (errCode !== undefined ? ERR_CODE_NAMES[errCode] : undefined) ?? 'UnknownError'
}
