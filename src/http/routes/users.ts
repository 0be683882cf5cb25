import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { auditWhenSettled } from '../audit.js'
import { callContext } from '../call-context.js'
import { servicesOnly } from '../service-only.js'
import { errorResponses } from '../responses.js'
import { UpdateUserRequest, UserIDParams, UserProfile } from '../user-schemas.js'

/** The error responses of the /users routes, with what 403 means there. */
export function userErrorResponses (...statuses: number[]) {
  const responses: Record<string, { description: string }> = errorResponses(...statuses)
  if (responses[403] !== undefined) {
    responses[403] = { ...responses[403], description: 'FORBIDDEN (an end-user token: these routes are for services) or RESERVED_USER_ID (an admin or system account)' }
  }
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
  }, async (request, reply) => app.profiles.get(request.params.userID, callContext(request, reply, app.config.requestDeadlineMs)))

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
  }, async (request, reply) => {
    const target = request.params.userID
    // The change may reach OpenIM although its caller has gone: the audit line follows the change, not the answer.
    return app.profiles.update(target, request.body, callContext(request, reply, app.config.requestDeadlineMs),
      auditWhenSettled(request, { action: 'update_profile', target }, () => 'updated'))
  })
}

export default users
