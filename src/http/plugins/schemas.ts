import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { components } from '../schemas/index.js'

/** The named schemas (src/http/schemas/), registered once by their $id: routes reach them through componentRef. */
async function schemas (app: FastifyInstance) {
  for (const schema of components(app.config)) app.addSchema(schema)
}

export default fp(schemas, { name: 'schemas', dependencies: ['services'] })
