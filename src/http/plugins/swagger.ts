import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export const openApiInfo = {
  title: 'openim-gateway',
  description: 'Keeps the OpenIM secret server-side: POST /provision makes sure a user exists in OpenIM and returns an OpenIM token. ' +
    'Every error has the shape {statusCode, code, error, message, requestId}. A request with both an x-api-key and an ' +
    'Authorization: Bearer token is served as the service the key names (the key wins; the token is not read): authorize ' +
    'only one of them here to act as an end user.',
  // The release's version, so cutting one changes package.json alone.
  version: (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
  license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' }
}

// Swagger UI's top-bar logo is an SVG with an inline <style>: allowed by its hash, not by 'unsafe-inline'.
const LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}'
const logoStyleSource = `'sha256-${createHash('sha256').update(LOGO_STYLE).digest('base64')}'`

// TLS is the proxy's job: with upgrade-insecure-requests a browser that reached /docs over plain http by any
// name but loopback fetches every /docs/static asset over https, and the page stays blank.
const docsCsp = (csp: string) =>
  csp.replace(/\s*upgrade-insecure-requests;?/g, '').replace(/style-src 'self'/, `style-src 'self' ${logoStyleSource}`)

/**
 * OpenAPI 3 from the route schemas, Swagger UI at /docs and the document at /docs/json. `servers` is the
 * gateway's public address (PUBLIC_BASE_URL) when known, else relative to wherever the document was fetched.
 * After the security headers: Swagger UI's pages adjust helmet's CSP (docsCsp), and before the routes, which
 * it documents as they are added.
 */
async function swagger (app: FastifyInstance) {
  const { publicBaseUrl } = app.config
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: openApiInfo,
      servers: [{
        url: publicBaseUrl ?? '/',
        description: publicBaseUrl === undefined ? 'This gateway (set PUBLIC_BASE_URL for an absolute address)' : 'This gateway'
      }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'x-api-key',
            description: 'A service\'s key from GATEWAY_API_KEYS (the part after "name:"). Sent with a bearer token too, the key wins.'
          },
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An end user\'s token from the application\'s identity provider'
          }
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
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: docsCsp })
}

export default fp(swagger, { name: 'swagger', dependencies: ['services', 'schemas', 'security'] })
