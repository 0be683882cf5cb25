import { createHash } from 'node:crypto'
import t from 'tap'
import { generateOpenApi } from '../../src/openapi-export.js'
import { SERVICE_KEY, buildGateway, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

// The per-user guards hold on every route that names a user, found in the OpenAPI document rather than listed
// here: a route added later is checked too, and fails here if it does not take its userID from the guards.

interface Operation { method: string, path: string, name: string, userInBody: boolean, body?: Record<string, unknown>, endUsers: boolean }

const document = JSON.parse(await generateOpenApi())
const operations: Operation[] = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
  Object.entries(item).flatMap(([method, operation]) => {
    const ref: string | undefined = operation.requestBody?.content['application/json'].schema.$ref
    const schema = ref === undefined ? undefined : document.components.schemas[ref.split('/').pop()!]
    const userInBody = schema?.properties?.userID !== undefined
    if (!path.includes('{userID}') && !userInBody) return []
    const endUsers = (operation.security ?? []).some((scheme: Record<string, unknown>) => 'bearerAuth' in scheme)
    return [{ method: method.toUpperCase(), path, name: operation.operationId, userInBody, body: schema?.example, endUsers }]
  }))

/** The operation's request for `userID` (undefined: named by nobody, as an end user may leave it). */
function send (app: Awaited<ReturnType<typeof buildGateway>>['app'], operation: Operation, userID: string | undefined,
  headers: Record<string, string>) {
  const url = operation.path.replace('{userID}', encodeURIComponent(userID ?? 'unnamed'))
  const body = operation.body === undefined ? undefined : { ...operation.body, userID }
  if (body !== undefined && !operation.userInBody) delete body.userID
  return app.inject({ method: operation.method, url, payload: body, headers })
}

const mappedUserID = (subject: string) => `h_${createHash('sha256').update(subject).digest('hex').slice(0, 40)}`

t.test('the OpenAPI document has routes that name a user (in the path or at the top of the body)', async (t) => {
  t.ok(operations.length > 0)
  t.ok(operations.some((operation) => operation.userInBody) && operations.some((operation) => !operation.userInBody))
})

t.test('every route that names a user refuses a reserved userID 403 RESERVED_USER_ID before any OpenIM call; ' +
  'a refused change is audited', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { OPENIM_RESERVED_USER_IDS: 'system_bot' })
  for (const operation of operations) {
    for (const userID of ['imAdmin', 'system_bot']) {
      const requestId = `${operation.name}-${userID}`
      const response = await send(app, operation, userID, { 'x-api-key': SERVICE_KEY, 'x-request-id': requestId })
      t.equal(response.statusCode, 403, `${operation.name} ${userID}`)
      t.equal(response.json().code, 'RESERVED_USER_ID', `${operation.name} ${userID}`)
      const audited = logs.records.filter((line) => line.msg === 'audit' && (line.audit as { requestId: string }).requestId === requestId)
      if (operation.method === 'GET') t.equal(audited.length, 0, `${operation.name}: a read is not audited`)
      else t.match(audited, [{ audit: { target: userID, outcome: 'refused', code: 'RESERVED_USER_ID' } }], operation.name)
    }
  }
  t.equal(emulator.callCount(), 0, 'OpenIM never asked')
})

t.test('an end user is refused 403 before any OpenIM call: another user\'s userID, a services-only route, and their own ' +
  'userID when it is reserved after JWT_USER_ID_MAPPING', async (t) => {
  const subject = 'auth0|root'
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, {
    JWT_SECRET, JWT_AUDIENCE: AUDIENCE, JWT_USER_ID_MAPPING: 'hash', OPENIM_RESERVED_USER_IDS: mappedUserID(subject)
  })
  const reserved = bearer(await signHs256({ sub: subject }))
  const other = bearer(await signHs256({ sub: 'someone' }))
  for (const operation of operations) {
    const otherUser = await send(app, operation, 'someone_else', other)
    t.match(otherUser.json(), { statusCode: 403, code: 'FORBIDDEN' }, `${operation.name}: another user`)
    const own = await send(app, operation, operation.userInBody ? undefined : mappedUserID(subject), reserved)
    const code = operation.endUsers ? 'RESERVED_USER_ID' : 'FORBIDDEN'
    t.match(own.json(), { statusCode: 403, code }, `${operation.name}: their own, reserved, userID`)
  }
  t.equal(emulator.callCount(), 0, 'OpenIM never asked')
})
