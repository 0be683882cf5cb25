import type { FastifyInstance } from 'fastify'
import authFailureLimit from '../../plugins/auth-failure-limit.js'
import authentication from '../../plugins/authentication.js'
import noStore from '../../plugins/no-store.js'
import rateLimit from '../../plugins/rate-limit.js'

/**
 * What every route in this folder gets (@fastify/autoload registers it in the folder's scope, before the
 * routes): everything that can reach OpenIM on a caller's behalf sits behind authentication.
 */
export default async function authenticatedScope (scope: FastifyInstance) {
  await scope.register(noStore)
  await scope.register(authFailureLimit)
  await scope.register(authentication)
  await scope.register(rateLimit)
}
