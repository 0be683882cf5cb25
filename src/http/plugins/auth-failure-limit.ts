import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { Config } from '../../config/index.js'
import { GatewayError } from '../../errors.js'

// Bounds the memory: past this many client addresses the least recently seen are forgotten.
const TRACKED_ADDRESSES = 10_000

interface Window { failures: number, endsAt: number }

/**
 * Failed authentications (401s) per client address, counted in memory on each replica. Past the limit an
 * address gets 429 before any signature is verified, so a flood of forged tokens or guessed keys stops
 * costing CPU (and identity-provider fetches). A request carrying a valid API key is never held back: a
 * service that shares an address with an attacker keeps working. The per-caller rate limit cannot do this
 * job: it keys on the caller, which a refused request does not have.
 */
export function registerAuthFailureLimit (scope: FastifyInstance, app: FastifyInstance, { authFailureLimit }: Config,
  hasValidApiKey: (headers: IncomingHttpHeaders) => boolean) {
  const { max, windowMs } = authFailureLimit
  if (max === 0) return
  const windows = new LRUCache<string, Window>({ max: TRACKED_ADDRESSES, ttl: windowMs })

  scope.addHook('onRequest', async (request) => {
    const window = windows.get(request.ip)
    if (window === undefined || window.failures < max || hasValidApiKey(request.headers)) return
    app.metrics.authFailureRejections.inc()
    const retryAfterSeconds = Math.max(1, Math.ceil((window.endsAt - Date.now()) / 1000))
    throw new GatewayError(429, 'RATE_LIMITED', `too many failed authentications from this address; retry in ${retryAfterSeconds} s`, {},
      { 'retry-after': String(retryAfterSeconds) })
  })

  scope.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 401) return
    let window = windows.get(request.ip)
    if (window === undefined) {
      // The window is fixed: it starts with the first failure and more failures do not extend it.
      window = { failures: 0, endsAt: Date.now() + windowMs }
      windows.set(request.ip, window)
    }
    window.failures++
    if (window.failures === max) request.log.warn({ ip: request.ip, failures: max }, 'too many failed authentications: this address gets 429 until the window ends')
  })
}
