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
    /**
     * errMsg and errDlt are OpenIM's free text: nothing is decided from them (v3.8.3 leaves errDlt empty where
     * older versions say why), and errDlt, which may hold a stack trace, never leaves the process.
     */
    readonly details: {
      errCode?: number
      errMsg?: string
      errDlt?: string
      httpStatus?: number
      /** ECONNREFUSED, CERT_HAS_EXPIRED… */
      networkCode?: string
    } = {}
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

/** gin's plain-text 404: no route at that path (v3.7 and older answer it for any unknown route). */
export function isNotFound (error: OpenImError): boolean {
  return error.kind === 'bad_response' && error.details.httpStatus === 404
}

/**
 * What a call to a route the server lacks can come back as: gin's 404, or 1001 from v3.8+'s token middleware,
 * which runs before routing and refuses a call sent without a token. The same 1001 answers an invalid request
 * (and v3.8.3 gives neither any text), so this proves nothing alone: asking both admin-token routes tells
 * (CONTRACT.md §1). OpenIM's errDlt and errMsg are never read for it.
 */
export function mayBeMissingRoute (error: OpenImError): boolean {
  return isNotFound(error) || (error.kind === 'rejected' && error.errCode === ErrCode.Args)
}

/**
 * user_register's 1001 for a batch holding a new userID that breaks OpenIM v3.8's rule (letters, digits and "_"):
 * v3.8.0 speaks the legacy API, so the gateway lets such IDs through to it. Told from the IDs sent, not from
 * OpenIM's text (v3.8.3 answers such refusals without any).
 */
export class UserIdRuleRefusal extends OpenImError {
  override name = 'UserIdRuleRefusal'
  constructor (cause: OpenImError, readonly userIDs: string[]) {
    super('rejected', cause.path, cause.message, cause.details)
  }
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
