import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { SERVICE_KEY, buildGateway, startOpenIm } from '../helper.js'

// One error shape everywhere: malformed URLs, methods and bodies swept over every operation of the served OpenAPI
// document (derived from it, not listed here), each answer checked for the shape, its request id and its code.
const emulator = await startOpenIm(t)
const { app } = await buildGateway(t, emulator.url, { BODY_LIMIT_BYTES: '1024', IMPORT_BODY_LIMIT_BYTES: String(64 * 1024) })
const document = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, documented: Object.keys(operation.responses) })))
/** A concrete URL of a documented path (its parameters filled in). */
const urlOf = (path: string) => path.replace(/\{[^}]+\}/g, 'alice_1')
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND', 'TRACE']
const credentials = { 'x-api-key': SERVICE_KEY }

/** The one shape: exactly these fields, the status in the body, the request id in the body and the header. */
function assertShape (t: Test, response: LightMyRequestResponse, status: number, code: string, what: string) {
  t.equal(response.statusCode, status, `${what}: ${status}`)
  t.match(response.headers['content-type'], /^application\/json/, `${what}: JSON`)
  const body = response.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'requestId', 'statusCode'], `${what}: the error shape`)
  t.match(body, { statusCode: status, code, message: /\S/, requestId: /\S/ }, `${what}: ${code}`)
  t.equal(response.headers['x-request-id'], body.requestId, `${what}: x-request-id names the request`)
  t.notMatch(response.body, /FST_|Error:|at .*\.js/, `${what}: nothing of Fastify's own`)
}

t.test('the sweep covers every operation of the document', async (t) => {
  t.ok(operations.length >= 8, `${operations.length} operations`)
})

t.test('a URL that does not percent-decode is 400 INVALID_REQUEST, on every path', async (t) => {
  for (const { method, path } of operations) {
    for (const bad of ['%ZZ', '%C0%AE', '%', '%E0%A4', '%ED%A0%80']) {
      const url = path.includes('{') ? urlOf(path).replace('alice_1', `alice${bad}`) : `${path}${bad}`
      assertShape(t, await app.inject({ method, url, headers: credentials }), 400, 'INVALID_REQUEST', `${method} ${url}`)
    }
  }
})

t.test('a path parameter past the router\'s length limit is 400 INVALID_REQUEST', async (t) => {
  for (const { method, path } of operations.filter((operation) => operation.path.includes('{'))) {
    const url = path.replace(/\{[^}]+\}/, 'a'.repeat(101))
    assertShape(t, await app.inject({ method, url, headers: credentials }), 400, 'INVALID_REQUEST', `${method} ${path} with 101 characters`)
  }
})

t.test('an unknown route or a method a path does not have is 404 NOT_FOUND', async (t) => {
  const paths = [...new Set(operations.map((operation) => operation.path))]
  /** Whether a documented operation serves `method` on `url` (/users/import is also /users/{userID} to PATCH). */
  const served = (method: string, url: string) => operations.some((operation) => operation.method === method &&
    new RegExp(`^${operation.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(url))
  for (const path of [...paths, '/nope', '/provision/extra', '//']) {
    // HEAD is served for every GET route; OPTIONS is CORS's.
    for (const method of METHODS.filter((method) => !served(method, urlOf(path)))) {
      assertShape(t, await app.inject({ method: method as 'GET', url: urlOf(path), headers: credentials }), 404, 'NOT_FOUND', `${method} ${path}`)
    }
  }
})

t.test('an unknown route is 404 NOT_FOUND whatever body comes with it: empty, malformed, of another type or charset', async (t) => {
  const bodies: Array<[string, string | undefined]> = [
    ['', 'application/json'], ['{"userID":', 'application/json'], ['{}', 'application/json; charset=latin1'], ['{}', 'text/plain'],
    ['{}', undefined]
  ]
  for (const url of ['/nope', '/provision/extra']) {
    for (const method of ['POST', 'PUT', 'PATCH'] as const) {
      for (const [payload, type] of bodies) {
        const headers = { ...credentials, ...(type !== undefined && { 'content-type': type }) }
        assertShape(t, await app.inject({ method, url, headers, payload }), 404, 'NOT_FOUND', `${method} ${url}, ${JSON.stringify([payload, type])}`)
      }
    }
  }
})

t.test('malformed bodies are 400, 413 or 415 on every operation that takes one, and the document lists them', async (t) => {
  const bodies: Array<[string, string, string | undefined, number, string]> = [
    ['not JSON', '{"userID":', 'application/json', 400, 'INVALID_REQUEST'],
    ['empty', '', 'application/json', 400, 'INVALID_REQUEST'],
    ['null', 'null', 'application/json', 400, 'INVALID_REQUEST'],
    ['an array', '[]', 'application/json', 400, 'INVALID_REQUEST'],
    ['a string', '"x"', 'application/json', 400, 'INVALID_REQUEST'],
    ['a prototype key', '{"__proto__":{"admin":true}}', 'application/json', 400, 'INVALID_REQUEST'],
    ['an unknown field', '{"userID":"alice_1","platformID":5,"users":[],"appMangerLevel":1}', 'application/json', 400, 'INVALID_REQUEST'],
    ['over BODY_LIMIT_BYTES (IMPORT_BODY_LIMIT_BYTES)', JSON.stringify({ ex: 'x'.repeat(65 * 1024) }), 'application/json', 413, 'PAYLOAD_TOO_LARGE'],
    ['text/plain', '{}', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['form-encoded', 'userID=alice_1', 'application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a look-alike content type', '{}', 'application/jsonx', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no content type', '{}', undefined, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['JSON in latin1', '{}', 'application/json; charset=latin1', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['JSON in UTF-16', '{}', 'application/json; charset="UTF-16"', 415, 'UNSUPPORTED_MEDIA_TYPE']
  ]
  for (const { method, path, documented } of operations.filter((operation) => ['POST', 'PATCH'].includes(operation.method))) {
    for (const [what, payload, type, status, code] of bodies) {
      const headers = { ...credentials, ...(type !== undefined && { 'content-type': type }) }
      assertShape(t, await app.inject({ method: method as 'POST', url: urlOf(path), headers, payload }), status, code, `${method} ${path}, ${what}`)
      t.ok(documented.includes(String(status)), `${method} ${path} documents ${status}`)
    }
  }
})
