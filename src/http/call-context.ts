import type { FastifyReply, FastifyRequest } from 'fastify'
import { clientClosedRequest } from '../errors.js'
import type { CallContext } from '../openim/transport.js'

/**
 * The OpenIM call context of one request: its id as operationID, a deadline REQUEST_DEADLINE_MS after it
 * arrived, and a signal that aborts when the client goes away before the answer. That is seen on the
 * response's 'close' before it finished (the request's own 'close' fires as soon as the body was read).
 */
export function callContext (request: FastifyRequest, reply: FastifyReply, deadlineMs: number): CallContext {
  const gone = new AbortController()
  const leave = () => gone.abort(clientClosedRequest())
  // A client that left while authentication or body parsing ran is already gone here.
  if (reply.raw.destroyed) leave()
  else reply.raw.once('close', () => { if (!reply.raw.writableFinished) leave() })
  return { operationID: request.id, deadline: Date.now() + deadlineMs - reply.elapsedTime, signal: gone.signal }
}
