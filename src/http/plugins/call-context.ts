import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { clientClosedRequest } from '../../errors.js'
import type { CallContext } from '../../openim/transport.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The OpenIM call context of this request: its id as operationID, a deadline `deadlineMs` (by default
     * REQUEST_DEADLINE_MS) after it arrived, and a signal that aborts when the client goes away before the answer.
     */
    callContext (deadlineMs?: number): CallContext
  }
}

// The reply of each request, for callContext: a Fastify request does not know its reply.
const REPLY = Symbol('reply')
type WithReply = FastifyRequest & { [REPLY]: FastifyReply }

/**
 * The client's leaving is seen on the response's 'close' before it finished (the request's own 'close' fires
 * as soon as the body was read).
 */
function callContext (request: FastifyRequest, reply: FastifyReply, deadlineMs: number): CallContext {
  const gone = new AbortController()
  const leave = () => gone.abort(clientClosedRequest())
  // A client that left while authentication or body parsing ran is already gone here.
  if (reply.raw.destroyed) leave()
  else reply.raw.once('close', () => { if (!reply.raw.writableFinished) leave() })
  return { operationID: request.id, deadline: Date.now() + deadlineMs - reply.elapsedTime, signal: gone.signal }
}

async function callContexts (app: FastifyInstance) {
  const { requestDeadlineMs } = app.config
  app.decorateRequest(REPLY, null)
  app.decorateRequest('callContext', function (this: FastifyRequest, deadlineMs = requestDeadlineMs) {
    return callContext(this, (this as WithReply)[REPLY], deadlineMs)
  })
  app.addHook('onRequest', async (request, reply) => { (request as WithReply)[REPLY] = reply })
}

export default fp(callContexts, { name: 'call-context', dependencies: ['services'] })
