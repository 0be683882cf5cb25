import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifyEtag from '@fastify/etag'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { GatewayError } from '../../errors.js'

// This file sits three folders below the package root both as src/http/routes and as dist/http/routes, so
// the built browser provider (tsc -p src/client/tsconfig.json → dist/client) is found from either.
const root = new URL('../../../', import.meta.url)

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

/**
 * The URL that never changes: named by the script's content (the first 16 hex digits of its sha256), not by
 * the package version, which is not bumped with every change to src/client. A name that follows the content
 * cannot serve other bytes than the ones a browser or CDN cached, or than a page's SRI hash pins.
 */
export const pinnedClientPath = (script: string) => `/client/${createHash('sha256').update(script).digest('hex').slice(0, 16)}.js`

const FIVE_MINUTES = 'public, max-age=300'
const FOREVER = 'public, max-age=31536000, immutable'

/**
 * The browser token provider as an ES module: /client.js (always the current one: short cache, ETag) and
 * /client/<content hash>.js (never changes, so cached for good and pinned with SRI). The global CORS
 * settings let the allowed origins import it.
 */
const clientScript: FastifyPluginAsync = async (app) => {
  const script = readClientScript()
  if (script === undefined) app.log.warn('the browser token provider is not built (npm run build): /client.js answers 404')
  await app.register(fastifyEtag)

  const send = (reply: FastifyReply, cacheControl: string) => {
    if (script === undefined) {
      throw new GatewayError(404, 'NOT_FOUND', 'the browser token provider is not built on this gateway (npm run build)')
    }
    // A module script is fetched with CORS; other origins may also load it without (a plain <script>).
    return reply.type('text/javascript; charset=utf-8').header('cache-control', cacheControl)
      .header('cross-origin-resource-policy', 'cross-origin').send(script)
  }

  app.get('/client.js', { schema: { hide: true } }, async (_request, reply) => send(reply, FIVE_MINUTES))
  const pinned = script === undefined ? undefined : pinnedClientPath(script)
  app.get<{ Params: { file: string } }>('/client/:file', { schema: { hide: true } }, async (request, reply) => {
    if (pinned !== undefined && `/client/${request.params.file}` !== pinned) {
      throw new GatewayError(404, 'NOT_FOUND', `this gateway serves one build of the browser token provider, pinned at ${pinned} ` +
        '(named by its content); /client.js is always the current one')
    }
    return send(reply, FOREVER)
  })
}

export default clientScript
