import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { userIdFor } from '../auth.js'
import { callContext } from '../call-context.js'
import { RevokeBody, RevokeResponse, callerSecurity, errorResponses } from '../schemas.js'

const ALL_USER_PLATFORMS = [1, 2, 3, 4, 5, 6, 7, 8, 9]

const revoke: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/revoke', {
    schema: {
      tags: ['provisioning'],
      summary: 'Log a user out through OpenIM\'s force_logout, so previously issued tokens stop working',
      description: 'Every platform 1–9 when platformID is omitted. On OpenIM v3.8+ the tokens are marked kicked (1506); ' +
        'before v3.8 OpenIM only drops the live connections and the tokens stay valid until they expire. The platforms are ' +
        'logged out in parallel, and a revoke is never stopped halfway: after a 503 or 504 some platforms may be logged out; repeating it is safe.',
      security: callerSecurity,
      body: RevokeBody,
      response: { 200: RevokeResponse, ...errorResponses(400, 401, 403, 413, 415, 429, 500, 502, 503, 504) }
    }
  }, async (request, reply) => {
    const userID = userIdFor(request.caller, request.body.userID)
    const platformIDs = request.body.platformID === undefined ? ALL_USER_PLATFORMS : [request.body.platformID]
    await app.provisioning.revoke(userID, platformIDs, callContext(request, reply, app.config.requestDeadlineMs))
    return { userID, platformIDs }
  })
}

export default revoke
