import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { GatewayError } from '../../errors.js'
import { userIdFor } from '../auth.js'
import { callContext } from '../call-context.js'
import { ProvisionBody, ProvisionResponse, callerSecurity, errorResponses } from '../schemas.js'

const provision: FastifyPluginAsyncTypebox = async (app) => {
  const { publicApiUrl, publicWsUrl, auth, requestDeadlineMs } = app.config
  const addresses = {
    ...(publicApiUrl !== undefined && { apiAddr: publicApiUrl }),
    ...(publicWsUrl !== undefined && { wsAddr: publicWsUrl })
  }

  app.post('/provision', {
    schema: {
      tags: ['provisioning'],
      summary: 'Make sure the user exists in OpenIM and mint an OpenIM token for one platform',
      description: 'Registers the user if needed (account_check → user_register), mints a token for the platform and ' +
        'answers once account_check confirms the account. 201 when this call created the user. Minting kicks the ' +
        'user\'s earlier token on the same platform (OpenIM v3.8.1+); concurrent calls for one user and platform share one token.',
      security: callerSecurity,
      body: ProvisionBody,
      response: { 200: ProvisionResponse, 201: ProvisionResponse, ...errorResponses(400, 401, 403, 413, 415, 429, 500, 502, 503, 504) }
    }
  }, async (request, reply) => {
    const userID = userIdFor(request.caller, request.body.userID)
    try {
      const result = await app.provisioning.provision({ ...request.body, userID }, callContext(request, reply, requestDeadlineMs))
      return await reply.code(result.created ? 201 : 200).send({ ...result, ...addresses })
    } catch (error) {
      // An end user does not choose their userID: point the operator at the mapping option.
      if (error instanceof GatewayError && error.code === 'INVALID_USER_ID' && request.caller?.kind === 'user' && auth.jwt?.userIdMapping === 'none') {
        throw new GatewayError(400, 'INVALID_USER_ID', `${error.message}; this userID is the token's "${auth.jwt.userIdClaim}" claim: ` +
          'set JWT_USER_ID_MAPPING=hash to map such subjects to valid OpenIM userIDs')
      }
      throw error
    }
  })
}

export default provision
