import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthResponse } from '../schemas.js'

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'Liveness: answers as soon as the server listens (no OpenIM call)', response: { 200: HealthResponse } }
  }, async () => ({ status: 'ok' as const }))
}

export default health
