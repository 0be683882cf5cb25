import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LRUCache } from 'lru-cache'
import { GatewayError } from '../../errors.js'

// Bounds the memory: past this many client addresses the least recently seen are forgotten.
const TRACKED_ADDRESSES = 10_000

interface Window { failures: number, endsAt: number }

/**
 * Failed authentications (401s) per client address, counted in memory on each replica. Past the limit an
 * address gets 429 before any signature is verified, so a flood of forged tokens or guessed keys stops
 * costing CPU (and identity-provider fetches). A request carrying a valid API key is never held back: a
 * service that shares an address with an attacker keeps working. The per-caller rate limit cannot do this
 * job: it keys on the caller, which a refused request does not have. So before authentication, in the same
 * scope.
 */
async function authFailureLimit (scope: FastifyInstance) {
  const { config: { authFailureLimit: { max, windowMs } }, authenticator, metrics } = scope
  if (max === 0) return
  const windows = new LRUCache<string, Window>({ max: TRACKED_ADDRESSES, ttl: windowMs })

  scope.addHook('onRequest', (request, _reply, done) => {
    const window = windows.get(request.ip)
    if (window === undefined || window.failures < max || authenticator.hasValidApiKey(request.headers)) {
      done()
      return
    }
    metrics.authFailureRejections.inc()
    const retryAfterSeconds = Math.max(1, Math.ceil((window.endsAt - Date.now()) / 1000))
    done(new GatewayError(429, 'RATE_LIMITED', `too many failed authentications from this address; retry in ${retryAfterSeconds} s`, {},
      { 'retry-after': String(retryAfterSeconds) }))
  })

  scope.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode === 401) countFailure(request)
    done()
  })

  function countFailure (request: FastifyRequest) {
    let window = windows.get(request.ip)
    if (window === undefined) {
      // The window is fixed: it starts with the first failure and more failures do not extend it.
      window = { failures: 0, endsAt: Date.now() + windowMs }
      windows.set(request.ip, window)
    }
    window.failures++
    if (window.failures === max) {
      request.log.warn({ ip: request.ip, failures: max }, 'too many failed authentications: this address gets 429 until the window ends')
    }
  }
}

export default fp(authFailureLimit, { name: 'auth-failure-limit', dependencies: ['services', 'request-ids', 'error-handling'] })
