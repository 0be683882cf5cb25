import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { servicesOnly } from '../service-only.js'
import { errorResponses } from '../schemas.js'
import { UpdateUserRequest, UserIDParams, UserProfile } from '../user-schemas.js'

/** The error responses of the /users routes, with what 403 and 404 mean there. */
export function userErrorResponses (...statuses: number[]) {
  const responses: Record<number, unknown> = errorResponses(...statuses)
  if (statuses.includes(403)) {
    responses[403] = Type.Ref('ErrorResponse', { description: 'FORBIDDEN (an end-user token: these routes are for services) or RESERVED_USER_ID (an admin or system account)' })
  }
  if (statuses.includes(404)) responses[404] = Type.Ref('ErrorResponse', { description: 'USER_NOT_FOUND: OpenIM has no such user' })
  return responses
}

const users: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', servicesOnly)

  app.get('/users/:userID', {
    schema: {
      operationId: 'getUser',
      tags: ['users'],
      summary: 'A user\'s OpenIM profile',
      description: 'Read from OpenIM (/user/get_users_info) on every call. Services only.',
      security: [{ apiKey: [] }],
      params: UserIDParams,
      response: { 200: UserProfile.ref, ...userErrorResponses(400, 401, 403, 404, 429, 500, 502, 503, 504) }
    }
  }, async (request) => app.profiles.get(request.params.userID, { operationID: request.id }))

  app.patch('/users/:userID', {
    schema: {
      operationId: 'updateUser',
      tags: ['users'],
      summary: 'Change a user\'s OpenIM profile (nickname, avatar, extra data)',
      description: 'Only the fields sent change; "" clears faceURL or ex. Answers the profile as OpenIM now holds it. ' +
        'Uses /user/update_user_info_ex (OpenIM v3.5+). Services only.',
      security: [{ apiKey: [] }],
      params: UserIDParams,
      body: UpdateUserRequest.ref,
      response: { 200: UserProfile.ref, ...userErrorResponses(400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504) }
    }
  }, async (request) => app.profiles.update(request.params.userID, request.body, { operationID: request.id }))
}

export default users
