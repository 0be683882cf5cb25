import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { brokenUserIdRule } from '../../../errors.js'
import { InvalidUserId } from '../../../provisioning/errors.js'
import type { NewUserProfile } from '../../../provisioning/registration.js'
import type { ProvisionResult } from '../../../provisioning/service.js'
import { auditWhenSettled } from '../../audit.js'
import {
  PROTECTED_ERRORS, ProvisionRequest, ProvisionResponse, callerSecurity, componentRef, errorResponses, successResponse
} from '../../schemas/index.js'
import { userToActOn } from '../../user-guard.js'

const answerExample = (created: boolean, reused = false) => ({
  userID: 'alice_42',
  platformID: 5,
  token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…',
  expireTimeSeconds: reused ? 6134400 : 7776000,
  expiresAt: '2027-02-23T15:30:00.000Z',
  created,
  reused,
  apiAddr: 'https://im.example.com/api',
  wsAddr: 'wss://im.example.com/msg_gateway'
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
      summary: 'Make sure the user exists in OpenIM and get a live OpenIM token for one platform',
      description: 'When the gateway handed the user a token for this platform before and OpenIM confirms it is still ' +
        'live (parse_token), answers that token again (reused: true, one OpenIM call, nobody logged out; OpenIM v3.8.1+, ' +
        'see TOKEN_REUSE). Otherwise registers the user if needed (account_check → user_register), mints a token and ' +
        'answers once account_check confirms the account; minting logs out the user\'s earlier token on the same platform ' +
        '(OpenIM v3.8.1+). "reuse": false always mints. 201 when this call created the user. Concurrent calls for one ' +
        'user and platform, on any replica, share one token.',
      security: callerSecurity,
      body: componentRef(ProvisionRequest),
      response: {
        200: successResponse(
          'The user already existed in OpenIM (created: false); here is a live token for the platform, reused or new.',
          componentRef(ProvisionResponse), {
            existingUser: { summary: 'An existing user, a new token', value: answerExample(false) },
            reusedToken: { summary: 'An existing user, the live token handed out before', value: answerExample(false, true) }
          }),
        201: successResponse('This call registered the user in OpenIM (created: true); here is a token for the platform.',
          componentRef(ProvisionResponse), { newUser: { summary: 'A user this call created', value: answerExample(true) } }),
        ...errorResponses(...PROTECTED_ERRORS, 404)
      }
    }
  }, async (request, reply) => {
    const { userID: requested, platformID, reuse, ...bodyProfile } = request.body
    const userID = userToActOn(request, { requested, audit: { action: 'provision', platformID } })
    const audited = auditWhenSettled<ProvisionResult>(request, { action: 'provision', target: userID, platformID },
      (result) => result.created ? 'registered' : result.reused ? 'reused' : 'minted')
    try {
      const input = { userID, platformID, reuse, ...profileOf(request, bodyProfile) }
      const result = await app.provisioning.provision(input, request.callContext(), audited)
      return await reply.code(result.created ? 201 : 200).send({ ...result, ...addresses })
    } catch (error) {
      // An end user does not choose their userID: point the operator at the mapping option. The refusal may
      // be the gateway's own or OpenIM v3.8.0's.
      const rule = brokenUserIdRule(error)
      if (rule !== undefined && request.caller?.kind === 'user' && auth.jwt?.userIdMapping === 'none') {
        throw new InvalidUserId(rule, auth.jwt.userIdClaim)
      }
      throw error
    }
  })
}

/**
 * End users do not choose how everyone else sees them: their identity provider's claims say it. The body's
 * fields are dropped, not refused, so front ends that still send them keep working.
 */
function profileOf (request: FastifyRequest, bodyProfile: NewUserProfile): NewUserProfile {
  if (request.caller?.kind !== 'user') return bodyProfile
  const ignored = Object.keys(bodyProfile)
  if (ignored.length > 0) {
    request.log.debug({ ignored }, 'profile fields sent by an end user are ignored: the token\'s claims supply them')
  }
  return request.caller.profile
}

export default provision
