import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { GatewayError, asGatewayError } from '../../errors.js'
import { userIdFor } from '../auth.js'
import { PROTECTED_ERRORS, callerSecurity, errorResponses, successResponse } from '../responses.js'
import { ProvisionRequest, ProvisionResponse, componentRef } from '../schemas.js'

const answerExample = (created: boolean) => ({
  userID: 'alice_42', platformID: 5, token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…', expireTimeSeconds: 7776000,
  expiresAt: '2027-02-23T15:30:00.000Z', created, apiAddr: 'https://im.example.com/api', wsAddr: 'wss://im.example.com/msg_gateway'
})

const provision: FastifyPluginAsyncTypebox = async (app) => {
  const { publicApiUrl, publicWsUrl, auth } = app.config
  const addresses = {
    ...(publicApiUrl !== undefined && { apiAddr: publicApiUrl }),
    ...(publicWsUrl !== undefined && { wsAddr: publicWsUrl })
  }

  app.post('/provision', {
    schema: {
      operationId: 'provision',
      tags: ['provisioning'],
      summary: 'Make sure the user exists in OpenIM and mint an OpenIM token for one platform',
      description: 'Registers the user if needed (account_check → user_register), mints a token for the platform and ' +
        'answers once account_check confirms the account. 201 when this call created the user. Minting kicks the ' +
        'user\'s earlier token on the same platform (OpenIM v3.8.1+); concurrent calls for one user and platform share one token.',
      security: callerSecurity,
      body: componentRef(ProvisionRequest),
      response: {
        200: successResponse('The user already existed in OpenIM (created: false); here is a token for the platform.', componentRef(ProvisionResponse),
          { existingUser: { summary: 'An existing user', value: answerExample(false) } }),
        201: successResponse('This call registered the user in OpenIM (created: true); here is a token for the platform.', componentRef(ProvisionResponse),
          { newUser: { summary: 'A user this call created', value: answerExample(true) } }),
        ...errorResponses(...PROTECTED_ERRORS, 404)
      }
    }
  }, async (request, reply) => {
    const userID = userIdFor(request.caller, request.body.userID)
    try {
      const result = await app.provisioning.provision({ ...request.body, userID }, { operationID: request.id })
      return await reply.code(result.created ? 201 : 200).send({ ...result, ...addresses })
    } catch (error) {
      // An end user does not choose their userID: point the operator at the mapping option. The refusal may
      // be the gateway's own or OpenIM v3.8.0's.
      const refusal = asGatewayError(error)
      if (refusal?.code === 'INVALID_USER_ID' && request.caller?.kind === 'user' && auth.jwt?.userIdMapping === 'none') {
        throw new GatewayError(400, 'INVALID_USER_ID', `${refusal.message}; this userID is the token's "${auth.jwt.userIdClaim}" claim: ` +
          'set JWT_USER_ID_MAPPING=hash to map such subjects to valid OpenIM userIDs')
      }
      throw error
    }
  })
}

export default provision
