import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { clientClosedRequest } from '../../errors.js'
import type { CallContext } from '../../openim/transport.js'
import { waitForCaller } from '../../provisioning/caller-wait.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The OpenIM call context of this request: its id as operationID, a deadline `deadlineMs` (by default
     * REQUEST_DEADLINE_MS) after it arrived, and a signal that aborts when the client goes away before the answer.
     */
    callContext (deadlineMs?: number): CallContext
    /**
     * Runs `work` with this request's call context and waits for it as long as the caller does: until it settles,
     * until the deadline (504 OPENIM_TIMEOUT: OpenIM's own timeout may be longer) or until the client leaves. For
     * routes that only relay an OpenIM read (the route calls the OpenIM client itself); a flow with rules of its
     * own (what to call, what to remember, what to audit) belongs in a service under src/provisioning/.
     */
    relay<T> (work: (context: CallContext) => Promise<T>): Promise<T>
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
  app.decorateRequest('relay', function <T>(this: FastifyRequest, work: (context: CallContext) => Promise<T>) {
    const context = this.callContext()
    return waitForCaller(work(context), context)
  })
  app.addHook('onRequest', (request, reply, done) => {
    (request as WithReply)[REPLY] = reply
    done()
  })
}

export default fp(callContexts, { name: 'call-context', dependencies: ['services'] })
