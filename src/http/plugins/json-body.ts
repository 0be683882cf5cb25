import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import secureJson from 'secure-json-parse'
import { GatewayError } from '../../errors.js'

/**
 * Fastify's own JSON parsing (secure-json-parse, refusing prototype keys), with answers that say what was
 * wrong: Fastify's parser calls a body with "__proto__" "not valid JSON", which sends callers hunting for a
 * syntax error that is not there. A JSON API: anything but application/json is a 415, not a string that fails
 * validation later; so is JSON declared in another charset than UTF-8 (JSON is UTF-8, RFC 8259: a latin1 body
 * would be read as something else than was meant). A route that does not exist is 404 whatever its body: the
 * body of a request nobody serves is neither parsed nor judged.
 */
async function jsonBody (app: FastifyInstance) {
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (request.is404) return done(null, undefined)
    if (!declaresUtf8(request.headers['content-type'])) {
      const refusal = new GatewayError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json in UTF-8 (no other charset)')
      return done(refusal, undefined)
    }
    if (body === '') return done(new GatewayError(400, 'INVALID_REQUEST', 'the body is empty; send a JSON object'), undefined)
    try {
      done(null, secureJson.parse(body as string, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      const prototypeKey = /forbidden prototype property/.test((error as Error).message)
      done(new GatewayError(400, 'INVALID_REQUEST', prototypeKey
        ? 'the body contains a "__proto__" or "constructor.prototype" key, which is refused'
        : 'the body is not valid JSON'), undefined)
    }
  })
}

/** No charset parameter, or UTF-8 under one of its names. */
function declaresUtf8 (contentType: string | undefined): boolean {
  const charset = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '')
  if (charset === null) return true
  return /^utf-?8$/i.test(charset[1] ?? charset[2] ?? '')
}

export default fp(jsonBody, { name: 'json-body' })
