import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import secureJson from 'secure-json-parse'
import { GatewayError } from '../../errors.js'

/**
 * Fastify's own JSON parsing (secure-json-parse, refusing prototype keys), with answers that say what was
 * wrong: Fastify's parser calls a body with "__proto__" "not valid JSON", which sends callers hunting for a
 * syntax error that is not there. A JSON API: anything but application/json is a 415, not a string that fails
 * validation later.
 */
async function jsonBody (app: FastifyInstance) {
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
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

export default fp(jsonBody, { name: 'json-body' })
