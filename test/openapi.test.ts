import { readFile } from 'node:fs/promises'
import { STATUS_CODES } from 'node:http'
import t from 'tap'
import Value from 'typebox/value'
import { generateOpenApi } from '../src/openapi-export.js'
import { ErrorResponse, ProvisionRequest, ProvisionResponse, RevokeResponse } from '../src/http/schemas/index.js'
import { buildGateway, startOpenIm } from './helper.js'

const document = JSON.parse(await generateOpenApi())
const provision = document.paths['/provision'].post
const revoke = document.paths['/revoke'].post
const ref = (name: string) => `#/components/schemas/${name}`

// Every operation of the generated document, with its path and method: the tests below hold for each one, so a
// new route is checked without being listed here (the committed openapi.json is the one deliberate snapshot).
const operations = Object.entries<Record<string, any>>(document.paths).flatMap(([path, item]) =>
  Object.entries<any>(item).map(([method, operation]) => ({ where: `${method.toUpperCase()} ${path}`, path, operation })))
// The API proper: operations that take credentials (the probes and /metrics take none, and answer inline shapes).
const guarded = operations.filter(({ operation }) => (operation.security ?? []).length > 0)
const jsonBodies = (operation: any) => [
  ...(operation.requestBody === undefined ? [] : [{ what: 'request', content: operation.requestBody.content }]),
  ...Object.entries<any>(operation.responses).map(([status, response]) => ({ what: status, content: response.content ?? {} }))
].flatMap(({ what, content }) => Object.entries<any>(content).filter(([type]) => type === 'application/json').map(([, media]) => ({ what, media })))

t.test('the committed openapi/openapi.json is what the app generates (run `npm run openapi` after changing a schema)', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(await generateOpenApi(), committed)
})

t.test('every operation has an operationId, so generated clients get named functions', async (t) => {
  t.ok(operations.length > 0)
  for (const { where, operation } of operations) t.match(operation.operationId, /^[a-z][A-Za-z]*$/, where)
  const ids = operations.map(({ operation }) => operation.operationId)
  t.same(ids.filter((id, index) => ids.indexOf(id) !== index), [], 'no two operations share one')
})

t.test('request and response bodies are named components, not inline schemas', async (t) => {
  t.ok(guarded.length > 0)
  for (const { where, operation } of guarded) {
    for (const { what, media } of jsonBodies(operation)) t.match(media.schema, { $ref: /^#\/components\/schemas\/\w+$/ }, `${where} ${what}`)
  }
  const text = JSON.stringify(document)
  for (const name of Object.keys(document.components.schemas)) t.ok(text.includes(`"${ref(name)}"`), `${name} is used`)
  t.equal(provision.requestBody.content['application/json'].schema.$ref, ref('ProvisionRequest'))
  t.equal(revoke.requestBody.content['application/json'].schema.$ref, ref('RevokeRequest'))
  for (const status of ['200', '201']) t.equal(provision.responses[status].content['application/json'].schema.$ref, ref('ProvisionResponse'), status)
  t.equal(revoke.responses['200'].content['application/json'].schema.$ref, ref('RevokeResponse'))
  t.same(document.components.schemas.Error.required.sort(), ['code', 'error', 'message', 'requestId', 'statusCode'])
})

t.test('servers is relative by default and PUBLIC_BASE_URL when set', async (t) => {
  t.same(document.servers.map((server: { url: string }) => server.url), ['/'])
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { PUBLIC_BASE_URL: 'https://chat-gateway.example.com/' })
  const served = (await app.inject({ url: '/docs/json' })).json()
  t.same(served.servers.map((server: { url: string }) => server.url), ['https://chat-gateway.example.com'])
})

t.test('each error status has its own examples, with that statusCode, a code it can carry, and the Error shape', async (t) => {
  const statusOfCode = new Map<string, string>()
  for (const { operation } of guarded) {
    for (const [status, response] of Object.entries<any>(operation.responses)) {
      if (Number(status) < 400) continue
      const examples = Object.entries<any>(response.content['application/json'].examples)
      t.ok(examples.length > 0, `${operation.operationId} ${status} has examples`)
      for (const [name, { value }] of examples) {
        t.equal(value.statusCode, Number(status), `${status} ${name}`)
        t.equal(value.code, name)
        t.equal(value.error, STATUS_CODES[Number(status)])
        t.ok(response.description.includes(value.code), `${status}'s description names ${value.code}`)
        t.ok(Value.Check(ErrorResponse, value), `${status} ${name} is an Error`)
        t.equal(statusOfCode.get(name) ?? status, status, `${name} has one status in every operation`)
        statusOfCode.set(name, status)
      }
    }
  }
})

t.test('200 and 201 are described apart and their examples say created false and true', async (t) => {
  const example = (status: string) => Object.values<any>(provision.responses[status].content['application/json'].examples)[0].value
  t.not(provision.responses['200'].description, provision.responses['201'].description)
  t.equal(example('200').created, false)
  t.equal(example('201').created, true)
  for (const status of ['200', '201']) t.ok(Value.Check(ProvisionResponse, example(status)), `${status} example is a ProvisionResponse`)
  t.ok(Value.Check(RevokeResponse, Object.values<any>(revoke.responses['200'].content['application/json'].examples)[0].value))
})

t.test('response headers are declared: x-request-id everywhere, rate-limit headers on success and 429, Retry-After on 429 and 503', async (t) => {
  for (const [status, response] of Object.entries<any>(provision.responses)) t.ok(response.headers['x-request-id'], status)
  for (const status of ['200', '201', '429']) {
    t.same(Object.keys(provision.responses[status].headers).filter((name) => name.startsWith('x-ratelimit-')).sort(),
      ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'], status)
  }
  for (const status of ['429', '503']) t.equal(provision.responses[status].headers['retry-after'].schema.type, 'integer', status)
  t.ok(provision.responses['401'].headers['www-authenticate'])
})

t.test('the request example Swagger UI pre-fills stores nothing on a new user beyond a nickname', async (t) => {
  const example = document.components.schemas.ProvisionRequest.example
  t.same(example, { userID: 'alice_42', platformID: 5, nickname: 'Alice' })
  t.ok(Value.Check(ProvisionRequest, example))
})

t.test('Swagger UI is served at /docs and the document at /docs/json', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.body, /swagger-ui/i)
  const json = await app.inject({ url: '/docs/json' })
  t.ok(json.json().paths['/provision'])
})

t.test('the /users routes take API keys only and document 403; every body has an example', async (t) => {
  const users = guarded.filter(({ path }) => path.startsWith('/users'))
  t.ok(users.length > 0)
  for (const { where, operation } of users) {
    t.same(operation.security, [{ apiKey: [] }], `${where}: API keys only`)
    t.match(operation.responses['403'].description, /RESERVED_USER_ID|FORBIDDEN/, where)
  }
  // On the component, or on the response (200 and 201 of one schema have examples of their own).
  for (const { where, operation } of guarded) {
    for (const { what, media } of jsonBodies(operation)) {
      t.ok(media.examples !== undefined || document.components.schemas[media.schema.$ref.slice(ref('').length)].example !== undefined, `${where} ${what} has an example`)
    }
  }
  t.equal(document.components.schemas.ImportRequest.properties.users.maxItems, 1000, 'IMPORT_MAX_USERS')
})

t.test('no CSP asks the browser to upgrade to https (TLS is the proxy\'s job), and the CSP stays strict otherwise', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const url of ['/docs/static/index.html', '/docs/static/swagger-ui.css', '/healthz']) {
    const csp = String((await app.inject({ url })).headers['content-security-policy'])
    t.notMatch(csp, /upgrade-insecure-requests/, url)
    t.match(csp, /default-src 'self'/, url)
    t.match(csp, /object-src 'none'/, url)
  }
})
