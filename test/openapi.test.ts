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

t.test('the committed openapi/openapi.json is what the app generates (run `npm run openapi` after changing a schema)', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(await generateOpenApi(), committed)
})

t.test('every operation has an operationId, so generated clients get named functions', async (t) => {
  const ids = Object.values(document.paths).flatMap((item) => Object.values(item as Record<string, { operationId?: string }>).map((operation) => operation.operationId))
  t.same(ids.sort(), ['getUser', 'healthz', 'importUsers', 'metrics', 'provision', 'readyz', 'revoke', 'updateUser'])
})

t.test('request and response bodies are named components, not inline schemas', async (t) => {
  t.same(Object.keys(document.components.schemas).sort(), ['Error', 'ImportRequest', 'ImportResponse', 'ImportResult', 'ImportUser', 'ProvisionRequest',
    'ProvisionResponse', 'RevokeRequest', 'RevokeResponse', 'UpdateUserRequest', 'UserProfile'])
  t.equal(provision.requestBody.content['application/json'].schema.$ref, ref('ProvisionRequest'))
  t.equal(revoke.requestBody.content['application/json'].schema.$ref, ref('RevokeRequest'))
  for (const status of ['200', '201']) t.equal(provision.responses[status].content['application/json'].schema.$ref, ref('ProvisionResponse'), status)
  t.equal(revoke.responses['200'].content['application/json'].schema.$ref, ref('RevokeResponse'))
  t.same(document.components.schemas.Error.required.sort(), ['code', 'error', 'message', 'requestId', 'statusCode'])
})

t.test('the API reference names every operationId and every component', async (t) => {
  const api = await readFile(new URL('../docs/reference/api.md', import.meta.url), 'utf8')
  const ids = Object.values(document.paths).flatMap((item) => Object.values(item as Record<string, { operationId: string }>).map((operation) => operation.operationId))
  for (const name of [...ids, ...Object.keys(document.components.schemas)]) t.match(api, `\`${name}\``, name)
})

t.test('servers is relative by default and PUBLIC_BASE_URL when set', async (t) => {
  t.same(document.servers.map((server: { url: string }) => server.url), ['/'])
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { PUBLIC_BASE_URL: 'https://chat-gateway.example.com/' })
  const served = (await app.inject({ url: '/docs/json' })).json()
  t.same(served.servers.map((server: { url: string }) => server.url), ['https://chat-gateway.example.com'])
})

t.test('each error status has its own examples, with that statusCode, a code it can carry, and the Error shape', async (t) => {
  for (const operation of [provision, revoke]) {
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
      }
    }
  }
  t.same(Object.keys(provision.responses['502'].content['application/json'].examples).sort(), ['OPENIM_AUTH_FAILED', 'OPENIM_BAD_RESPONSE', 'OPENIM_REJECTED'])
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

t.test('the /users routes have operationIds, named schemas with examples, and service-only security', async (t) => {
  const document = JSON.parse(await generateOpenApi())
  const operations = { importUsers: document.paths['/users/import'].post, getUser: document.paths['/users/{userID}'].get, updateUser: document.paths['/users/{userID}'].patch }
  for (const [operationId, operation] of Object.entries(operations)) {
    t.equal(operation.operationId, operationId)
    t.same(operation.security, [{ apiKey: [] }], `${operationId}: API keys only`)
    t.match(operation.responses['403'].description, /RESERVED_USER_ID|FORBIDDEN/)
  }
  t.equal(operations.importUsers.requestBody.content['application/json'].schema.$ref, '#/components/schemas/ImportRequest')
  t.equal(operations.importUsers.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/ImportResponse')
  t.equal(operations.updateUser.requestBody.content['application/json'].schema.$ref, '#/components/schemas/UpdateUserRequest')
  t.equal(operations.getUser.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/UserProfile')
  for (const name of ['ImportRequest', 'ImportResponse', 'UpdateUserRequest', 'UserProfile']) t.ok(document.components.schemas[name].example, `${name} has an example`)
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
