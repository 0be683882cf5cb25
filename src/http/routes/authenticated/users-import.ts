import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ImportOutcome } from '../../../provisioning/import.js'
import { audit, failureOutcome } from '../../audit.js'
import { ImportAdmission } from '../../import-admission.js'
import { ImportResponse, componentRef, importRequest, serviceErrorResponses, serviceSecurity } from '../../schemas/index.js'
import { servicesOnly } from '../../user-guard.js'

const usersImport: FastifyPluginAsyncTypebox = async (app) => {
  const { import: settings, rateLimit } = app.config
  const admission = new ImportAdmission(settings.maxConcurrent)
  app.addHook('onRequest', servicesOnly)

  app.post('/users/import', {
    // A full batch does not fit the global body limit; imports have a budget of their own, apart from /provision's.
    bodyLimit: settings.bodyLimitBytes,
    config: { rateLimit: { max: settings.rateLimitMax, timeWindow: rateLimit.windowMs } },
    // Before the body is read: what an import holds in memory is bounded by how many run at once.
    onRequest: admission.admit,
    schema: {
      operationId: 'importUsers',
      tags: ['users'],
      summary: 'Create many users at once; users OpenIM already has are left as they are',
      description: `Up to IMPORT_MAX_USERS (now ${settings.maxUsers}) users per call. Answers 200 with one result per user: ` +
        'created, existing, or failed with a code (a bad row fails alone). One account_check for the batch, then ' +
        'user_register for the missing users in chunks. Running the same import again is safe. At most IMPORT_MAX_CONCURRENT ' +
        `(now ${settings.maxConcurrent}) imports run at once on a replica; beyond them 503 OVERLOADED with Retry-After. Services only.`,
      security: serviceSecurity,
      body: componentRef(importRequest(settings.maxUsers)),
      response: { 200: componentRef(ImportResponse), ...serviceErrorResponses(400, 401, 403, 413, 415, 429, 500, 502, 503, 504) }
    }
  }, async (request) => {
    const users = request.body.users.length
    const context = request.callContext(settings.deadlineMs)
    let answer: ImportOutcome
    try {
      answer = await admission.hold(request, () => app.importer.import(request.body.users, context))
    } catch (error) {
      audit(request, { action: 'import_users', counts: { users, created: 0, existing: 0, failed: users }, ...failureOutcome(error) })
      throw error
    }
    // Written even when the caller has gone: what was created is created. The users not sent then say so.
    const { created, existing, failed } = answer
    const outcome = created > 0 ? 'registered' : 'unchanged'
    audit(request, { action: 'import_users', counts: { users, created, existing, failed }, outcome })
    if (context.signal?.aborted === true) throw context.signal.reason
    return answer
  })
}

export default usersImport
