// Every way a call to OpenIM can fail, typed so that exactly one place (src/errors.ts) turns it into an
// HTTP answer. This module knows nothing about HTTP status codes of the gateway.
export type OpenImFailureKind =
  | 'rejected' // HTTP 200 with errCode ≠ 0
  | 'auth_failed' // OpenIM refused the secret or the admin account
  | 'bad_response' // wrong HTTP status, empty, non-JSON or HTML body, unexpected shape
  | 'unavailable' // connection refused/reset, DNS failure
  | 'timeout' // OPENIM_TIMEOUT_MS exceeded

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
  RecordNotFound: 1004,
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

/** errMsg is a short error name upstream ("ArgsError", "RegisteredAlreadyError: …"); keep only that name. */
export function errMsgName (errMsg: string | undefined): string {
  const name = (errMsg ?? '').split(/[:\n]/, 1)[0]?.trim() ?? ''
  return name.slice(0, 80)
}
