import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

export const openApiInfo = {
  title: 'openim-gateway',
  description: 'Keeps the OpenIM secret server-side: POST /provision makes sure a user exists in OpenIM and returns an OpenIM token. ' +
    'Every error has the shape {statusCode, code, error, message, requestId}.',
  version: '0.1.0'
}

/** OpenAPI 3 from the route schemas, Swagger UI at /docs and the document at /docs/json. */
export async function registerSwagger (app: FastifyInstance) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: openApiInfo,
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A service\'s key from GATEWAY_API_KEYS' },
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An end user\'s token from the application\'s identity provider' }
        }
      },
      tags: [
        { name: 'provisioning', description: 'OpenIM users and tokens' },
        { name: 'users', description: 'For services: bulk import, profiles and lookup of OpenIM users' },
        { name: 'operations', description: 'Health, readiness and metrics' }
      ]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
}
