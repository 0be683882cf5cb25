import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'

/**
 * onRequest hook for routes only services may call (API keys, or anyone when AUTH_DISABLED=true): an end
 * user's token acts on its own user only and never in bulk. Runs before the body is read.
 */
export async function servicesOnly (request: FastifyRequest): Promise<void> {
  if (request.caller?.kind === 'user') {
    throw new GatewayError(403, 'FORBIDDEN', 'only services (x-api-key) may call this route; end-user tokens may not')
  }
}
