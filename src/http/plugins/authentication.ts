import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Caller } from '../auth.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on authenticated routes; undefined elsewhere and when it refused. */
    caller: Caller | undefined
  }
}

/**
 * Names the caller of every route registered after it in its scope (an API key's service, an end user's
 * token, or anonymous with AUTH_DISABLED), or refuses the request 401 before its body is read. After the
 * failure limit, which holds back addresses that keep failing before any signature is verified.
 */
async function authentication (scope: FastifyInstance) {
  const { authenticator } = scope
  scope.decorateRequest('caller', undefined)
  scope.addHook('onRequest', (request, _reply, done) => {
    // A throw is Fastify's done(error): the 401.
    const caller = authenticator.authenticate(request.headers)
    if (!(caller instanceof Promise)) {
      request.caller = caller
      done()
      return
    }
    caller.then((verified) => {
      request.caller = verified
      done()
    }, done)
  })
}

export default fp(authentication, { name: 'authentication', dependencies: ['services', 'auth-failure-limit'] })
