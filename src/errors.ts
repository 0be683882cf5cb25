import { ErrCode, OpenImError, UserIdRuleRefusal, errCodeName } from './openim/errors.js'
import { STRICT_USER_ID_RULE } from './openim/generations.js'
import { CallCancelled } from './openim/transport.js'
import { InvalidUserId, isDomainError, type DomainError } from './provisioning/errors.js'

export type ErrorCode =
  | 'INVALID_REQUEST' | 'INVALID_USER_ID' | 'USER_NOT_FOUND' | 'NOT_FOUND' | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'OPENIM_AUTH_FAILED' | 'OPENIM_REJECTED' | 'OPENIM_BAD_RESPONSE' | 'OPENIM_UNAVAILABLE' | 'OPENIM_TIMEOUT'
  | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'RESERVED_USER_ID' | 'AUTH_UNAVAILABLE' | 'RATE_LIMITED' | 'OVERLOADED'
  | 'DEADLINE_EXCEEDED' | 'REQUEST_TIMEOUT' | 'HEADERS_TOO_LARGE' | 'SHUTTING_DOWN' | 'CLIENT_CLOSED_REQUEST'
  | 'INTERNAL_ERROR'

/** What an OVERLOADED answer tells the caller to wait before trying again. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 5
/** What OPENIM_UNAVAILABLE tells the caller to wait: OpenIM restarting, or a network blip, takes seconds. */
export const OPENIM_UNAVAILABLE_RETRY_AFTER_SECONDS = 5

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

/** The gateway error a failure is answered with, when it is one the gateway knows (else it is a bug: 500). */
export function asGatewayError (error: unknown): GatewayError | undefined {
  if (error instanceof GatewayError) return error
  if (isDomainError(error)) return fromDomainError(error)
  if (error instanceof OpenImError) return fromOpenImError(error)
  // Work stopped because its caller had gone: nobody reads the answer, but it is no bug either.
  if (error instanceof CallCancelled) return clientClosedRequest()
  return undefined
}

/** 499 (nginx's "client closed request"): logged and counted, never read by anyone. */
export const clientClosedRequest = () =>
  new GatewayError(499, 'CLIENT_CLOSED_REQUEST', 'the caller closed the connection before the answer')

/**
 * The one place where the domain's refusals (src/provisioning/errors.ts) get an HTTP status and code. The
 * message is the error's own: it explains the refusal and names no HTTP.
 */
export function fromDomainError (error: DomainError): GatewayError {
  switch (error.name) {
    case 'UserNotFound':
      return new GatewayError(404, 'USER_NOT_FOUND', error.message)
    case 'ReservedUserId':
      return new GatewayError(403, 'RESERVED_USER_ID', error.message)
    case 'InvalidUserId':
      return new GatewayError(400, 'INVALID_USER_ID', error.message)
    case 'ForbiddenUser':
    case 'ServicesOnly':
      return new GatewayError(403, 'FORBIDDEN', error.message)
    case 'UserIdRequired':
      return new GatewayError(400, 'INVALID_REQUEST', error.message)
    case 'RequestDeadlineExceeded':
      return new GatewayError(504, 'OPENIM_TIMEOUT', error.message)
    case 'ImportDeadlineExceeded':
      return new GatewayError(504, 'DEADLINE_EXCEEDED', error.message)
  }
}

/**
 * The one place where OpenIM failures become gateway errors. OpenIM's errDlt and errMsg never leave this
 * process (free text that may hold a stack trace or internal details); openimErrMsg is the errCode's name.
 */
export function fromOpenImError (error: OpenImError): GatewayError {
  switch (error.kind) {
    case 'auth_failed':
      return new GatewayError(502, 'OPENIM_AUTH_FAILED',
        'OpenIM refused the gateway\'s admin credentials; the operator must check OPENIM_SECRET and OPENIM_ADMIN_USER_ID')
    case 'rejected':
      return fromRejection(error)
    case 'bad_response':
      return new GatewayError(502, 'OPENIM_BAD_RESPONSE', `${error.message} to ${error.path}`)
    case 'unavailable':
      return new GatewayError(503, 'OPENIM_UNAVAILABLE', error.message, {},
        { 'retry-after': String(OPENIM_UNAVAILABLE_RETRY_AFTER_SECONDS) })
    case 'timeout':
      return new GatewayError(504, 'OPENIM_TIMEOUT', `${error.message} (${error.path})`)
    case 'overloaded':
      return new GatewayError(503, 'OVERLOADED', `the gateway is overloaded: ${error.message}; retry shortly`, {},
        { 'retry-after': String(OVERLOADED_RETRY_AFTER_SECONDS) })
  }
}

/** The rule a refused userID broke, whether the gateway or OpenIM refused it; undefined for any other failure. */
export function brokenUserIdRule (error: unknown): string | undefined {
  if (error instanceof InvalidUserId) return error.problem
  const answer = error instanceof OpenImError ? fromOpenImError(error) : undefined
  return answer?.code === 'INVALID_USER_ID' ? answer.message : undefined
}

/**
 * An errCode. Two are the caller's business rather than OpenIM's failure: an unknown user (1101 up to v3.8.2,
 * 1004 from v3.8.3), and v3.8.0's refusal of a new userID that breaks its rule (a 1001 the gateway cannot
 * prevent, since v3.8.0 speaks the legacy API like the versions that accept such IDs).
 */
function fromRejection (error: OpenImError): GatewayError {
  if (error.errCode === ErrCode.UserIDNotFound || error.errCode === ErrCode.RecordNotFound) {
    return new GatewayError(404, 'USER_NOT_FOUND',
      `OpenIM has no such user (errCode ${error.errCode} from ${error.path})`)
  }
  // Told by the OpenIM client from the userIDs it sent, never from OpenIM's text.
  if (error instanceof UserIdRuleRefusal) return new GatewayError(400, 'INVALID_USER_ID', STRICT_USER_ID_RULE)
  return new GatewayError(502, 'OPENIM_REJECTED', `OpenIM rejected ${error.path} with errCode ${error.errCode}`, {
    openimErrCode: error.errCode ?? 0, openimErrMsg: errCodeName(error.errCode)
  })
}
