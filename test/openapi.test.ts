import { readFile } from 'node:fs/promises'
import t from 'tap'
import { generateOpenApi } from '../src/openapi-export.js'
import { buildGateway, startOpenIm } from './helper.js'

t.test('the committed openapi/openapi.json is what the app generates (run `npm run openapi` after changing a schema)', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(await generateOpenApi(), committed)
})

t.test('the document describes /provision with its body, both successes and every error in one shape', async (t) => {
  const document = JSON.parse(await generateOpenApi())
  t.equal(document.openapi, '3.0.3')
  const operation = document.paths['/provision'].post
  t.ok(operation.requestBody.content['application/json'].schema.properties.platformID)
  for (const status of ['200', '201']) t.ok(operation.responses[status], status)
  for (const status of ['400', '502', '503', '504']) {
    t.equal(operation.responses[status].content['application/json'].schema.$ref, '#/components/schemas/ErrorResponse', status)
    t.ok(operation.responses[status].description.length > 10)
  }
  t.same(document.components.schemas.ErrorResponse.required.sort(), ['code', 'error', 'message', 'requestId', 'statusCode'])
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
