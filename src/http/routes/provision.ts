import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../../errors.js'
import { assertNotReserved } from '../../provisioning/reserved.js'
import type { ProvisionInput } from '../../provisioning/service.js'
import { audit, failureOutcome } from '../audit.js'
import { userIdFor } from '../auth.js'
import { ProvisionBody, ProvisionResponse, callerSecurity, errorResponses } from '../schemas.js'

type ProfileFields = Pick<ProvisionInput, 'nickname' | 'faceURL' | 'ex'>

const provision: FastifyPluginAsyncTypebox = async (app) => {
  const { publicApiUrl, publicWsUrl, auth, openim } = app.config
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
    const { userID: requested, platformID, ...bodyProfile } = request.body
    const target = requested ?? (request.caller?.kind === 'user' ? request.caller.userID : '')
    try {
      const userID = userIdFor(request.caller, requested)
      assertNotReserved(userID, openim.reservedUserIDs)
      const result = await app.provisioning.provision({ userID, platformID, ...profileOf(request, bodyProfile) }, { operationID: request.id })
      audit(request, { action: 'provision', target: userID, platformID, outcome: result.created ? 'registered' : 'minted' })
      return await reply.code(result.created ? 201 : 200).send({ ...result, ...addresses })
    } catch (error) {
      audit(request, { action: 'provision', target, platformID, ...failureOutcome(error) })
      // An end user does not choose their userID: point the operator at the mapping option.
      if (error instanceof GatewayError && error.code === 'INVALID_USER_ID' && request.caller?.kind === 'user' && auth.jwt?.userIdMapping === 'none') {
        throw new GatewayError(400, 'INVALID_USER_ID', `${error.message}; this userID is the token's "${auth.jwt.userIdClaim}" claim: ` +
          'set JWT_USER_ID_MAPPING=hash to map such subjects to valid OpenIM userIDs')
      }
      throw error
    }
  })
}

/**
 * End users do not choose how everyone else sees them: their identity provider's claims say it. The body's
 * fields are dropped, not refused, so front ends that still send them keep working.
 */
function profileOf (request: FastifyRequest, bodyProfile: ProfileFields): ProfileFields {
  if (request.caller?.kind !== 'user') return bodyProfile
  const ignored = Object.keys(bodyProfile)
  if (ignored.length > 0) request.log.debug({ ignored }, 'profile fields sent by an end user are ignored: the token\'s claims supply them')
  return request.caller.profile
}

export default provision
