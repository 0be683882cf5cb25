import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

// A caller's x-request-id is reused (and sent to OpenIM as operationID) only when it is short and URL-safe.
const SANE_REQUEST_ID = /^[A-Za-z0-9._~-]{1,64}$/

/** Fastify's genReqId for every listener: the caller's sane x-request-id, else a fresh UUID (never a counter). */
export function requestId (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/**
 * Every answer of this listener, errors included, names its request id in x-request-id. The header is set
 * before any other hook can refuse the request, so plugins that refuse in onRequest depend on this one.
 */
async function requestIds (app: FastifyInstance) {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}

export default fp(requestIds, { name: 'request-ids' })
