import { OpenImError, errMsgName } from './openim/errors.js'

export type ErrorCode =
  | 'INVALID_REQUEST' | 'INVALID_USER_ID' | 'NOT_FOUND' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE'
  | 'OPENIM_AUTH_FAILED' | 'OPENIM_REJECTED' | 'OPENIM_BAD_RESPONSE' | 'OPENIM_UNAVAILABLE' | 'OPENIM_TIMEOUT'
  | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_UNAVAILABLE' | 'RATE_LIMITED' | 'OVERLOADED'
  | 'REQUEST_TIMEOUT' | 'HEADERS_TOO_LARGE' | 'SHUTTING_DOWN' | 'CLIENT_CLOSED_REQUEST'
  | 'INTERNAL_ERROR'

/** What an OVERLOADED answer tells the caller to wait before trying again. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 5

/** An error the gateway answers with, in the one shape `{statusCode, code, error, message, requestId}`. */
export class GatewayError extends Error {
  override name = 'GatewayError'
  constructor (
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra documented fields of the error body (openimErrCode, openimErrMsg). */
    readonly extra: Record<string, string | number> = {},
    /** Response headers that belong to the error (WWW-Authenticate, Retry-After). */
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
  }
}

/**
 * The one place where OpenIM failures become gateway errors. OpenIM's errDlt never leaves this process
 * (it may hold a stack trace); of errMsg only the error's name is kept.
 */
export function fromOpenImError (error: OpenImError): GatewayError {
  switch (error.kind) {
    case 'auth_failed':
      return new GatewayError(502, 'OPENIM_AUTH_FAILED', 'OpenIM refused the gateway\'s admin credentials; the operator must check OPENIM_SECRET and OPENIM_ADMIN_USER_ID')
    case 'rejected':
      return new GatewayError(502, 'OPENIM_REJECTED', `OpenIM rejected ${error.path} with errCode ${error.errCode}`, {
        openimErrCode: error.errCode ?? 0, openimErrMsg: errMsgName(error.details.errMsg)
      })
    case 'bad_response':
      return new GatewayError(502, 'OPENIM_BAD_RESPONSE', `${error.message} to ${error.path}`)
    case 'unavailable':
      return new GatewayError(503, 'OPENIM_UNAVAILABLE', error.message)
    case 'timeout':
      return new GatewayError(504, 'OPENIM_TIMEOUT', `${error.message} (${error.path})`)
    case 'overloaded':
      return new GatewayError(503, 'OVERLOADED', `the gateway is overloaded: ${error.message}; retry shortly`, {},
        { 'retry-after': String(OVERLOADED_RETRY_AFTER_SECONDS) })
  }
}
