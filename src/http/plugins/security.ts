import type { IncomingMessage, ServerResponse } from 'node:http'
import fastifyCors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import { GatewayError } from '../../errors.js'

// Swagger UI serves its scripts and styles from /docs/static and sets its own CSP there (staticCSP). No
// upgrade-insecure-requests: TLS is the proxy's job, and plain-http deployments must keep working.
const HELMET_OPTIONS: HelmetOptions = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }

/**
 * The headers helmet sets with `options`, computed once: they are the same on every response, and helmet
 * (through @fastify/helmet) rebuilt its middleware and parsed the CSP directives again on every request.
 */
export function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: unknown) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: () => {}
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => { if (error) throw error })
  return headers
}

/**
 * Standard security headers on every response, and CORS for the exact origins in CORS_ORIGINS only: front
 * ends call /provision straight from the page. Only those origins get Access-Control-Allow-Origin, the header
 * browsers check; the other CORS headers (exposed headers, and on preflights the allowed methods, headers and
 * max-age) are the same for every origin and say nothing the docs do not.
 */
async function security (app: FastifyInstance) {
  const { corsOrigins } = app.config
  const headers = securityHeaders(HELMET_OPTIONS)
  // Set before any other hook can refuse the request, so refusals carry them too.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
  if (corsOrigins.length === 0) return
  // @fastify/cors (strictPreflight) answers a preflight without these headers with a text/plain 400; this
  // hook runs before its own and answers it in the one error shape, with the request id.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS' && (!request.headers.origin || !request.headers['access-control-request-method'])) {
      throw new GatewayError(400, 'INVALID_REQUEST',
        'a CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers')
    }
  })
  await app.register(fastifyCors, {
    origin: corsOrigins,
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    // WWW-Authenticate: page code reads why its token was refused (expired, wrong audience…).
    exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    maxAge: 600,
    strictPreflight: true
  })
}

export default fp(security, { name: 'security', dependencies: ['services', 'request-ids', 'error-handling'] })
