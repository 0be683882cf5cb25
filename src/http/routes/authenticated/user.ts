import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { auditWhenSettled } from '../../audit.js'
import {
  UpdateUserRequest, UserIDParams, UserProfile, componentRef, serviceErrorResponses, serviceSecurity
} from '../../schemas/index.js'
import { servicesOnly, userToActOn } from '../../user-guard.js'

/** GET and PATCH /users/{userID}: one user's OpenIM profile, for services. */
const user: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', servicesOnly)

  app.get('/users/:userID', {
    schema: {
      operationId: 'getUser',
      tags: ['users'],
      summary: 'A user\'s OpenIM profile',
      description: 'Read from OpenIM (/user/get_users_info) on every call. Services only.',
      security: serviceSecurity,
      params: UserIDParams,
      response: { 200: componentRef(UserProfile), ...serviceErrorResponses(400, 401, 403, 404, 429, 500, 502, 503, 504) }
    }
  }, async (request) => {
    const userID = userToActOn(request, { requested: request.params.userID })
    return app.profiles.get(userID, request.callContext())
  })

  app.patch('/users/:userID', {
    schema: {
      operationId: 'updateUser',
      tags: ['users'],
      summary: 'Change a user\'s OpenIM profile (nickname, avatar, extra data)',
      description: 'Only the fields sent change; "" clears faceURL or ex. Answers the profile as OpenIM now holds it. ' +
        'Uses /user/update_user_info_ex (OpenIM v3.5+). Services only.',
      security: serviceSecurity,
      params: UserIDParams,
      body: componentRef(UpdateUserRequest),
      response: {
        200: componentRef(UserProfile),
        ...serviceErrorResponses(400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504)
      }
    }
  }, async (request) => {
    const userID = userToActOn(request, { requested: request.params.userID, audit: { action: 'update_profile' } })
    // The change may reach OpenIM although its caller has gone: the audit line follows the change, not the answer.
    return app.profiles.update(userID, request.body, request.callContext(),
      auditWhenSettled(request, { action: 'update_profile', target: userID }, () => 'updated'))
  })
}

export default user
