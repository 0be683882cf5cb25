import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../errors.js'
import { errorBody } from './plugins/error-handling.js'

function classify (code: string | undefined): GatewayError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new GatewayError(408, 'REQUEST_TIMEOUT', 'the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)')
  }
  if (code === 'HPE_HEADER_OVERFLOW') return new GatewayError(431, 'HEADERS_TOO_LARGE', 'the request headers are larger than 16 KB')
  return new GatewayError(400, 'INVALID_REQUEST', 'the request is not valid HTTP/1.1')
}

/**
 * Fastify's clientErrorHandler: what Node's HTTP parser refuses (malformed requests, oversized headers,
 * headers or bodies that do not arrive in time) never reaches a route, so it is answered here, in the one
 * error shape with a fresh request id. The bytes the client sent (err.rawPacket) are never logged: they
 * may hold credentials.
 */
export function clientErrorHandler (this: FastifyInstance, error: Error & { code?: string }, socket: Socket) {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const answer = classify(error.code)
  const requestId = randomUUID()
  // Debug, not info: a client can cause these as fast as it can open connections, and must not fill the logs.
  this.log.debug({ reqId: requestId, statusCode: answer.statusCode, code: answer.code, parserError: error.code },
    'request refused by the HTTP parser')
  // As Node itself does: answer only when no other response has started on this connection.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage
  if (socket.writable && inFlight?.headersSent !== true) {
    const body = JSON.stringify(errorBody(answer, requestId))
    socket.write(`HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}
