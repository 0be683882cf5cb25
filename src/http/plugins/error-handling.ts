import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError, asGatewayError, isWrongOpenImUrl } from '../../errors.js'
import type { OpenImError } from '../../openim/errors.js'
import { loggedHeaders } from '../logged-headers.js'
import { PATTERN_MEANINGS } from '../schemas/index.js'

/** Fastify's own errors, by code, as gateway errors. */
const FASTIFY_ERRORS: Record<string, (error: FastifyError) => GatewayError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new GatewayError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'),
  FST_ERR_CTP_BODY_TOO_LARGE: (error) => new GatewayError(413, 'PAYLOAD_TOO_LARGE', error.message),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new GatewayError(400, 'INVALID_REQUEST', 'the Content-Length does not match the body')
}

/**
 * Ajv's messages, with the property they are about ("body must NOT have additional properties" says not
 * which), and what a pattern means instead of the pattern.
 */
function validationMessage (error: FastifyError): string {
  return (error.validation ?? []).map((issue) => {
    const where = `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}`
    const params = issue.params as { additionalProperty?: string, pattern?: string, format?: string }
    const { additionalProperty: property, pattern, format } = params
    const rule = pattern ?? format
    const message = (rule !== undefined ? PATTERN_MEANINGS[rule] : undefined) ?? issue.message ?? 'is invalid'
    return `${where} ${message}${property !== undefined ? `: "${property}"` : ''}`
  }).join('; ')
}

function toGatewayError (error: FastifyError | Error): GatewayError {
  const gatewayError = asGatewayError(error)
  if (gatewayError !== undefined) return gatewayError
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) return new GatewayError(400, 'INVALID_REQUEST', validationMessage(fastifyError))
  const known = fastifyError.code !== undefined ? FASTIFY_ERRORS[fastifyError.code] : undefined
  if (known !== undefined) return known(fastifyError)
  if (error instanceof SyntaxError) return new GatewayError(400, 'INVALID_REQUEST', 'the body is not valid JSON')
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) return new GatewayError(status, 'INVALID_REQUEST', fastifyError.message)
  return new GatewayError(500, 'INTERNAL_ERROR', 'internal error')
}

// 499 is nginx's "client closed request": logged and counted, never read by anyone.
const REASON_PHRASES: Record<number, string | undefined> = { ...STATUS_CODES, 499: 'Client Closed Request' }

export function errorBody (error: GatewayError, requestId: string) {
  const reason = REASON_PHRASES[error.statusCode] ?? 'Error'
  return { statusCode: error.statusCode, code: error.code, error: reason, message: error.message, requestId, ...error.extra }
}

export function sendError (reply: FastifyReply, error: GatewayError) {
  return reply.code(error.statusCode).headers(error.headers).send(errorBody(error, reply.request.id))
}

const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'the URL is not valid: every %-escape must be two hex digits of well-formed UTF-8',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment is longer than 100 characters'
}

/**
 * Fastify's frameworkErrors: what its router refuses before any route or hook runs (a path that does not
 * percent-decode, a path segment past maxParamLength, a failed route constraint), in the one error shape
 * with the request id. Every one is the request's fault, so 400.
 */
export function frameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const message = FRAMEWORK_MESSAGES[error.code] ?? 'the request cannot be routed'
  const answer = new GatewayError(400, 'INVALID_REQUEST', message)
  request.log.info({ code: answer.code, reason: error.code }, 'request refused')
  return sendError(reply.header('x-request-id', request.id), answer)
}

/** One error shape everywhere: never a stack trace, OpenIM's errDlt, the secret or a token. */
async function errorHandling (app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const gatewayError = toGatewayError(error)
    if (gatewayError.code === 'OPENIM_AUTH_FAILED') {
      request.log.error({ code: gatewayError.code, openimErrCode: (error as unknown as OpenImError).errCode },
        'OpenIM refused the admin credentials: OPENIM_SECRET or OPENIM_ADMIN_USER_ID is wrong')
    } else if (isWrongOpenImUrl(error)) {
      // Every request fails the same way until the operator fixes the setting: as loud as a wrong secret.
      request.log.error({ code: gatewayError.code, path: error.path },
        'OpenIM has no such route at OPENIM_API_URL: OPENIM_API_URL is wrong')
    } else if (gatewayError.statusCode >= 500 && gatewayError.code === 'INTERNAL_ERROR') {
      request.log.error({ err: error }, 'unexpected error')
    } else if (gatewayError.statusCode >= 500) {
      const message = gatewayError.code.startsWith('OPENIM_') ? 'OpenIM call failed' : 'request failed'
      request.log.warn({ code: gatewayError.code, reason: error.message }, message)
    } else if (gatewayError.code === 'CLIENT_CLOSED_REQUEST') {
      request.log.info({ code: gatewayError.code }, 'the caller left before the answer')
    } else {
      request.log.info({ code: gatewayError.code, reason: gatewayError.message }, 'request refused')
      // What the client sent helps explain a refusal: the allow-listed headers only, never a credential.
      request.log.debug({ req: { method: request.method, url: request.url, headers: loggedHeaders(request.headers), ip: request.ip } },
        'refused request')
    }
    return sendError(reply, gatewayError)
  })
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new GatewayError(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)))
}

export default fp(errorHandling, { name: 'error-handling' })
