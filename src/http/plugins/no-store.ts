import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * Answers that may carry tokens are never stored by a browser or proxy cache (RFC 6749 §5.1): every answer of
 * the routes registered after it in its scope, refusals included.
 */
async function noStore (scope: FastifyInstance) {
  scope.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    done(null, payload)
  })
}

export default fp(noStore, { name: 'no-store' })
