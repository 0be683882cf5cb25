import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

/**
 * Standard security headers on every response, and CORS for the exact origins in CORS_ORIGINS only: front
 * ends call /provision straight from the page. Other origins get no CORS headers at all.
 */
export async function registerSecurity (app: FastifyInstance, corsOrigins: string[]) {
  // Swagger UI serves its scripts and styles from /docs/static and sets its own CSP there (staticCSP). No
  // upgrade-insecure-requests: TLS is the proxy's job, and plain-http deployments must keep working.
  await app.register(fastifyHelmet, { global: true, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })
  if (corsOrigins.length === 0) return
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
