import { STATUS_CODES } from 'node:http'
import Type, { type TSchema } from 'typebox'
import type { ErrorCode } from '../../errors.js'
import { componentRef } from './component.js'

// The OpenAPI side of the routes' responses: what each status means, the headers that come with it, and
// examples a generated client or Swagger UI can show. Validation and serialization only use the schemas.

/** The one error shape, for every refusal and failure. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ description: 'The HTTP status, repeated.' }),
  code: Type.String({ description: 'Stable machine-readable error code.' }),
  error: Type.String({ description: 'HTTP reason phrase.' }),
  message: Type.String({ description: 'What went wrong, for people: never a secret, a token or a stack trace.' }),
  requestId: Type.String({ description: 'The x-request-id of this request; also the operationID sent to OpenIM.' }),
  openimErrCode: Type.Optional(Type.Integer({ description: 'OPENIM_REJECTED only: OpenIM\'s errCode.' })),
  openimErrMsg: Type.Optional(Type.String({
    description: 'OPENIM_REJECTED only: the name of OpenIM\'s errCode (ArgsError, NoPermissionError, …; UnknownError for others), ' +
      'never OpenIM\'s own errMsg text.'
  }))
}, { $id: 'Error', title: 'Error' })

/** Both ways to call a protected operation, as declared in the OpenAPI document's securitySchemes. */
export const callerSecurity: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearerAuth: [] }]

/** Operations for services only: an end user's token is refused (403 FORBIDDEN). */
export const serviceSecurity: Array<Record<string, string[]>> = [{ apiKey: [] }]

/** Open operations say so, rather than leaving readers (and linters) to guess. */
export const noSecurity: Array<Record<string, string[]>> = []

const header = (type: 'string' | 'integer', description: string) => ({ type, description })
const requestIdHeader = {
  'x-request-id': header('string',
    'The request id: the caller\'s sane x-request-id, or a generated one; also in error bodies and sent to OpenIM as operationID.')
}
const rateLimitHeaders = {
  'x-ratelimit-limit': header('integer', 'Requests this caller may make per window (RATE_LIMIT_MAX).'),
  'x-ratelimit-remaining': header('integer', 'Requests left in the current window.'),
  'x-ratelimit-reset': header('integer', 'Seconds until the window resets.')
}
const retryAfterHeader = { 'retry-after': header('integer', 'Seconds to wait before trying again.') }

interface DocumentedError { description: string, examples: Array<[ErrorCode, string]>, headers?: Record<string, unknown> }

/** What each error status means, with one example per code it can carry (the message is typical, not fixed). */
const ERRORS: Record<number, DocumentedError> = {
  400: {
    description: 'INVALID_REQUEST (schema violation, malformed JSON) or INVALID_USER_ID (a userID OpenIM cannot hold, or a new one ' +
      'that breaks its rule for new IDs)',
    examples: [
      ['INVALID_REQUEST', 'body.platformID must be <= 9'],
      ['INVALID_USER_ID', 'userID "alice@example.com" may only hold letters, digits and "_" on this OpenIM']
    ]
  },
  401: {
    description: 'UNAUTHENTICATED: missing or bad credentials (x-api-key or Bearer token); bearer failures carry a ' +
      'WWW-Authenticate challenge',
    examples: [['UNAUTHENTICATED', 'the token has expired']],
    headers: { 'www-authenticate': header('string', 'A Bearer challenge (RFC 6750) when end-user tokens are accepted.') }
  },
  403: {
    description: 'FORBIDDEN (an end user asked for another user) or RESERVED_USER_ID (an admin or system account)',
    examples: [
      ['FORBIDDEN', 'an end user may only act on their own userID (the one in their token)'],
      ['RESERVED_USER_ID', 'this userID is reserved for OpenIM\'s own accounts']
    ]
  },
  404: {
    description: 'USER_NOT_FOUND: OpenIM does not know the user',
    examples: [['USER_NOT_FOUND', 'OpenIM has no such user (errCode 1004 from /auth/get_user_token)']]
  },
  413: {
    description: 'PAYLOAD_TOO_LARGE: the body is larger than BODY_LIMIT_BYTES',
    examples: [['PAYLOAD_TOO_LARGE', 'Request body is too large']]
  },
  415: {
    description: 'UNSUPPORTED_MEDIA_TYPE: the body was not sent as application/json, or declared in another charset than UTF-8',
    examples: [['UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json']]
  },
  429: {
    description: 'RATE_LIMITED: this caller used up RATE_LIMIT_MAX for the window; retry after Retry-After seconds',
    examples: [['RATE_LIMITED', 'rate limit exceeded: 60 requests per window; retry in 42 seconds']],
    headers: { ...retryAfterHeader, ...rateLimitHeaders }
  },
  500: {
    description: 'INTERNAL_ERROR: a bug, logged with its stack and answered without it',
    examples: [['INTERNAL_ERROR', 'internal error']]
  },
  502: {
    description: 'OPENIM_AUTH_FAILED (OpenIM refused the gateway\'s secret or admin account), OPENIM_REJECTED (any other errCode), ' +
      'OPENIM_BAD_RESPONSE (non-JSON, HTML, wrong status, unexpected shape)',
    examples: [
      ['OPENIM_AUTH_FAILED',
        'OpenIM refused the gateway\'s admin credentials; the operator must check OPENIM_SECRET and OPENIM_ADMIN_USER_ID'],
      ['OPENIM_REJECTED', 'OpenIM rejected /user/user_register with errCode 1001'],
      ['OPENIM_BAD_RESPONSE', 'OpenIM answered with HTML instead of JSON to /auth/get_user_token']
    ]
  },
  503: {
    description: 'OPENIM_UNAVAILABLE (connection refused/reset, DNS failure), AUTH_UNAVAILABLE (the identity provider\'s keys cannot be ' +
      'fetched), OVERLOADED (the gateway is saturated, or too many OpenIM calls wait) or SHUTTING_DOWN (this replica is stopping); ' +
      'every one carries Retry-After: retry after that many seconds',
    examples: [
      ['OPENIM_UNAVAILABLE', 'OpenIM is unreachable (ECONNREFUSED)'],
      ['AUTH_UNAVAILABLE', 'the identity provider\'s signing keys (JWT_JWKS_URL) cannot be fetched right now'],
      ['OVERLOADED', 'the gateway is overloaded; retry shortly'],
      ['SHUTTING_DOWN', 'the gateway is shutting down; retry on another replica']
    ],
    headers: retryAfterHeader
  },
  504: {
    description: 'OPENIM_TIMEOUT (an OpenIM call took longer than OPENIM_TIMEOUT_MS, or the request did not finish within ' +
      'REQUEST_DEADLINE_MS) or DEADLINE_EXCEEDED (an import ran out of IMPORT_DEADLINE_MS)',
    examples: [
      ['OPENIM_TIMEOUT', 'OpenIM did not answer within 5000 ms (/user/account_check)'],
      ['DEADLINE_EXCEEDED', 'the import ran past IMPORT_DEADLINE_MS']
    ]
  }
}

/** On routes for services only, a 403 FORBIDDEN means an end user's token, not another user. */
const SERVICE_ERRORS: Record<number, DocumentedError> = {
  ...ERRORS,
  403: {
    ...ERRORS[403]!,
    description: 'FORBIDDEN (an end-user token: these routes are for services) or RESERVED_USER_ID (an admin or system account)'
  }
}

const REQUEST_ID_EXAMPLE = '4f7c1c9e-2b7d-4c55-9a43-0d1f6f0c2a11'

function errorExample (status: number, code: ErrorCode, message: string) {
  const openim = code === 'OPENIM_REJECTED' ? { openimErrCode: 1001, openimErrMsg: 'ArgsError' } : {}
  return { statusCode: status, code, error: STATUS_CODES[status], message, requestId: REQUEST_ID_EXAMPLE, ...openim }
}

/** A response in Fastify's content form, which @fastify/swagger turns into an OpenAPI response as is. */
function jsonResponse (description: string, schema: TSchema, headers: Record<string, unknown>, examples: Record<string, unknown>) {
  return { description, headers, content: { 'application/json': { schema, examples } } }
}

function documentedErrors (documented: Record<number, DocumentedError>, statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => {
    const error = documented[status]
    if (error === undefined) throw new Error(`no documented error response for status ${status}`)
    const examples = Object.fromEntries(error.examples.map(([code, message]) =>
      [code, { summary: code, value: errorExample(status, code, message) }]))
    return [status, jsonResponse(error.description, componentRef(ErrorResponse), { ...requestIdHeader, ...error.headers }, examples)]
  }))
}

/** The documented error responses of a protected operation, all in the one Error shape. */
export const errorResponses = (...statuses: number[]) => documentedErrors(ERRORS, statuses)

/** The same, for an operation only services may call (callers with serviceSecurity). */
export const serviceErrorResponses = (...statuses: number[]) => documentedErrors(SERVICE_ERRORS, statuses)

/** A success answer of a rate-limited operation. */
export function successResponse (description: string, schema: TSchema, examples: Record<string, { summary: string, value: unknown }>) {
  return jsonResponse(description, schema, { ...requestIdHeader, ...rateLimitHeaders }, examples)
}

export const PROTECTED_ERRORS = [400, 401, 403, 413, 415, 429, 500, 502, 503, 504] as const
