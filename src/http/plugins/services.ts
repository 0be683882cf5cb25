import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Services } from '../services.js'

declare module 'fastify' {
  interface FastifyInstance extends Services {}
}

/** The services as app decorations (app.config, app.openim, app.provisioning, …), closed with the app. */
async function services (app: FastifyInstance, built: Services) {
  for (const [name, service] of Object.entries(built)) app.decorate(name, service)
  app.addHook('onClose', async () => {
    await built.redis?.close()
    await built.openim.close()
  })
}

export default fp(services, { name: 'services' })
