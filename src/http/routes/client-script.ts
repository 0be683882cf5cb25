import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifyEtag from '@fastify/etag'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { GatewayError } from '../../errors.js'

// This file sits three folders below the package root both as src/http/routes and as dist/http/routes, so
// the built browser provider (tsc -p src/client/tsconfig.json → dist/client) is found from either.
const root = new URL('../../../', import.meta.url)

export const CLIENT_VERSION = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string }).version

/** The built browser token provider, or undefined before `npm run build`. */
export function readClientScript (): string | undefined {
  try {
    return readFileSync(new URL('dist/client/index.js', root), 'utf8')
  } catch {
    return undefined
  }
}

/** The Subresource Integrity value of a script, for `<script integrity>` and `import` maps. */
export const subresourceIntegrity = (script: string) => `sha384-${createHash('sha384').update(script).digest('base64')}`

const FIVE_MINUTES = 'public, max-age=300'
const FOREVER = 'public, max-age=31536000, immutable'

/**
 * The browser token provider as an ES module: /client.js (always the current one: short cache, ETag) and
 * /client/<version>.js (never changes, so cached for good and pinned with SRI). The global CORS settings
 * let the allowed origins import it.
 */
const clientScript: FastifyPluginAsync = async (app) => {
  const script = readClientScript()
  if (script === undefined) app.log.warn('the browser token provider is not built (npm run build): /client.js answers 404')
  await app.register(fastifyEtag)

  const send = (reply: FastifyReply, cacheControl: string) => {
    if (script === undefined) throw new GatewayError(404, 'NOT_FOUND', 'the browser token provider is not built on this gateway (npm run build)')
    // A module script is fetched with CORS; other origins may also load it without (a plain <script>).
    return reply.type('text/javascript; charset=utf-8').header('cache-control', cacheControl)
      .header('cross-origin-resource-policy', 'cross-origin').send(script)
  }

  app.get('/client.js', { schema: { hide: true } }, async (_request, reply) => send(reply, FIVE_MINUTES))
  app.get<{ Params: { file: string } }>('/client/:file', { schema: { hide: true } }, async (request, reply) => {
    if (request.params.file !== `${CLIENT_VERSION}.js`) {
      throw new GatewayError(404, 'NOT_FOUND', `this gateway serves the browser token provider ${CLIENT_VERSION} only: /client/${CLIENT_VERSION}.js`)
    }
    return send(reply, FOREVER)
  })
}

export default clientScript
