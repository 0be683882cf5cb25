import { ErrCode, OpenImError, UserIdRuleRefusal, errCodeName, isNotFound } from './openim/errors.js'
import { STRICT_USER_ID_RULE } from './openim/generations.js'
import { CallCancelled } from './openim/transport.js'
import { InvalidUserId, isDomainError, type DomainError } from './provisioning/errors.js'

/**
 * Every code the gateway answers with: its HTTP status and when it is given. The API reference's error table is
 * generated from this list (`npm run docs`); a new failure gets its code here.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: {
    status: 400,
    when: 'schema violation, malformed JSON, a request that is not valid HTTP, a URL that does not percent-decode (`%ZZ`, ' +
      '`%C0%AE`) or a path segment over 100 characters'
  },
  INVALID_USER_ID: {
    status: 400,
    when: 'a userID OpenIM cannot hold (`:`, over 64 characters, not well-formed Unicode), or a new one that breaks its rule for new ' +
      'IDs (the message says which)'
  },
  UNAUTHENTICATED: {
    status: 401,
    when: 'missing or bad credentials (with `WWW-Authenticate` for bearer tokens), including a token without `exp`, a subject of the ' +
      'mapped form (`h_` + 40 hex digits) and a numeric user-ID claim beyond 2^53'
  },
  FORBIDDEN: { status: 403, when: 'an end user asked for another userID, or called a services-only `/users` route' },
  RESERVED_USER_ID: { status: 403, when: 'the userID is an OpenIM admin or system account (before any OpenIM call)' },
  NOT_FOUND: { status: 404, when: 'no such route, or a method the path does not have' },
  USER_NOT_FOUND: {
    status: 404,
    when: 'OpenIM does not know the user: when minting its token (errCode 1101 up to v3.8.2, 1004 from v3.8.3), or on ' +
      '`GET`/`PATCH /users/{userID}`'
  },
  REQUEST_TIMEOUT: {
    status: 408,
    when: 'headers or body did not arrive within `HTTP_HEADERS_TIMEOUT_MS` / `HTTP_REQUEST_TIMEOUT_MS` (the connection is then closed)'
  },
  PAYLOAD_TOO_LARGE: { status: 413, when: 'body larger than `BODY_LIMIT_BYTES`' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, when: 'body not sent as `application/json`, or in another charset than UTF-8' },
  RATE_LIMITED: {
    status: 429,
    when: 'the caller used up `RATE_LIMIT_MAX` for the window (with `Retry-After` and `x-ratelimit-*`), or the client address caused ' +
      '`AUTH_FAILURE_LIMIT_MAX` failed authentications (with `Retry-After`)'
  },
  HEADERS_TOO_LARGE: { status: 431, when: 'request headers larger than 16 KB (the connection is then closed)' },
  CLIENT_CLOSED_REQUEST: {
    status: 499,
    when: 'the caller disconnected before the answer: nobody receives it; it shows in the request log (at `info`, never as an ' +
      'unexpected error) and metrics'
  },
  INTERNAL_ERROR: { status: 500, when: 'a bug: logged with its stack, answered without it' },
  OPENIM_AUTH_FAILED: { status: 502, when: 'OpenIM refused the secret or the admin account (operator error, logged at error level)' },
  OPENIM_REJECTED: { status: 502, when: 'any other OpenIM errCode' },
  OPENIM_BAD_RESPONSE: { status: 502, when: 'non-JSON or HTML body, empty body, wrong HTTP status, unexpected shape' },
  OPENIM_UNAVAILABLE: { status: 503, when: 'connection refused or reset, DNS failure (with `Retry-After: 5`)' },
  AUTH_UNAVAILABLE: { status: 503, when: 'the identity provider\'s key set cannot be fetched (with `Retry-After`)' },
  OVERLOADED: {
    status: 503,
    when: 'the event loop is saturated, or `OPENIM_MAX_PENDING_CALLS` calls already wait for OpenIM (with `Retry-After: 5`); ' +
      '`/users/import`: `IMPORT_MAX_CONCURRENT` imports already run on this replica (with `Retry-After: 1`); `/provision` while ' +
      'Redis is unavailable: this replica minted for the user and platform within the lease and that token was replaced since ' +
      '(with `Retry-After` until the lease ends)'
  },
  SHUTTING_DOWN: {
    status: 503,
    when: 'the replica is stopping: a request that arrives then, or one that did not finish within `SHUTDOWN_TIMEOUT_MS` (with ' +
      '`Connection: close`); with `Retry-After: 1`: another replica can take the retry'
  },
  OPENIM_TIMEOUT: {
    status: 504,
    when: 'an OpenIM call took longer than `OPENIM_TIMEOUT_MS`, or the request did not finish within `REQUEST_DEADLINE_MS`'
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    when: '`/users/import`: OpenIM did not answer the batch\'s first `account_check` within `IMPORT_DEADLINE_MS`'
  }
} as const satisfies Record<string, { status: number, when: string }>

export type ErrorCode = keyof typeof ERROR_CODES

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
    case 'MintDeferred':
      return new GatewayError(503, 'OVERLOADED', error.message, {}, { 'retry-after': String(error.retryAfterSeconds) })
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
      if (isNotFound(error)) return new GatewayError(502, 'OPENIM_BAD_RESPONSE', wrongOpenImUrl(error.path))
      return new GatewayError(502, 'OPENIM_BAD_RESPONSE', `${error.message} (${error.path})`)
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

/** A route OpenIM does not have at OPENIM_API_URL (gin's 404, or no admin route of either generation): the operator's to fix. */
export const isWrongOpenImUrl = (error: unknown): error is OpenImError => error instanceof OpenImError && isNotFound(error)

const wrongOpenImUrl = (path: string) => `OpenIM has no ${path} at OPENIM_API_URL (not found); the operator must check ` +
  'OPENIM_API_URL: OpenIM\'s API address (port 10002 by default), with a path only if a proxy in front of OpenIM maps one'

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
