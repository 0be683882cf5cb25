import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ProvisionBody, ProvisionResponse, errorResponses } from '../schemas.js'

const provision: FastifyPluginAsyncTypebox = async (app) => {
  const { publicApiUrl, publicWsUrl } = app.config
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
      body: ProvisionBody,
      response: { 200: ProvisionResponse, 201: ProvisionResponse, ...errorResponses(400, 413, 415, 500, 502, 503, 504) }
    }
  }, async (request, reply) => {
    const result = await app.provisioning.provision(request.body, request.id)
    return reply.code(result.created ? 201 : 200).send({ ...result, ...addresses })
  })
}

export default provision
