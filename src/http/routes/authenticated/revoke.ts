import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { auditWhenSettled } from '../../audit.js'
import {
  PROTECTED_ERRORS, RevokeRequest, RevokeResponse, callerSecurity, componentRef, errorResponses, successResponse
} from '../../schemas/index.js'
import { userToActOn } from '../../user-guard.js'

const ALL_USER_PLATFORMS = [1, 2, 3, 4, 5, 6, 7, 8, 9]

const revoke: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/revoke', {
    schema: {
      operationId: 'revoke',
      tags: ['provisioning'],
      summary: 'Log a user out through OpenIM\'s force_logout, so previously issued tokens stop working',
      description: 'Every platform 1–9 when platformID is omitted. On OpenIM v3.8+ the tokens are marked kicked (1506); ' +
        'before v3.8 OpenIM only drops the live connections and the tokens stay valid until they expire. Either way the ' +
        'gateway forgets the tokens it remembered for those platforms, so the next provision mints a new one. The ' +
        'platforms are logged out in parallel, and a revoke is never stopped halfway: after a 503 or 504 some platforms ' +
        'may be logged out; repeating it is safe.',
      security: callerSecurity,
      body: componentRef(RevokeRequest),
      response: {
        200: successResponse('The user was logged out of the listed platforms.', componentRef(RevokeResponse),
          { onePlatform: { summary: 'One platform', value: { userID: 'alice_42', platformIDs: [5] } } }),
        ...errorResponses(...PROTECTED_ERRORS)
      }
    }
  }, async (request) => {
    const platformIDs = request.body.platformID === undefined ? ALL_USER_PLATFORMS : [request.body.platformID]
    const userID = userToActOn(request, { requested: request.body.userID, audit: { action: 'revoke', platformID: platformIDs } })
    // The revoke runs to completion whatever its caller does: its audit line says how it ended, not what the
    // caller saw.
    await app.provisioning.revoke(userID, platformIDs, request.callContext(),
      auditWhenSettled(request, { action: 'revoke', target: userID, platformID: platformIDs }, () => 'revoked'))
    return { userID, platformIDs }
  })
}

export default revoke
