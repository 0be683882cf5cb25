import Fastify, { type FastifyPluginAsync } from 'fastify'
import t from 'tap'
import authFailureLimit from '../../src/http/plugins/auth-failure-limit.js'
import authentication from '../../src/http/plugins/authentication.js'
import errorHandling from '../../src/http/plugins/error-handling.js'
import overload from '../../src/http/plugins/overload.js'
import rateLimit from '../../src/http/plugins/rate-limit.js'
import requestIds from '../../src/http/plugins/request-ids.js'
import schemas from '../../src/http/plugins/schemas.js'
import security from '../../src/http/plugins/security.js'
import services from '../../src/http/plugins/services.js'
import swagger from '../../src/http/plugins/swagger.js'
import { buildServices } from '../../src/http/services.js'
import { gatewayConfig, startOpenIm } from '../helper.js'

// The order of the concerns is declared by each plugin and enforced by Fastify: registered before what it
// needs, a plugin stops the app from starting, naming what is missing.
const cases: Array<{ what: string, before: FastifyPluginAsync[], plugin: FastifyPluginAsync, missing: string }> = [
  { what: 'rate limiting before authentication', before: [requestIds, errorHandling, authFailureLimit], plugin: rateLimit, missing: 'authentication' },
  { what: 'authentication before its failure limit', before: [requestIds, errorHandling], plugin: authentication, missing: 'auth-failure-limit' },
  { what: 'overload shedding before request ids', before: [errorHandling], plugin: overload, missing: 'request-ids' },
  { what: 'security headers before the error handler', before: [requestIds], plugin: security, missing: 'error-handling' },
  { what: 'Swagger before the security headers', before: [requestIds, errorHandling, schemas], plugin: swagger, missing: 'security' }
]

for (const { what, before, plugin, missing } of cases) {
  t.test(`${what} stops the app from starting`, async (t) => {
    const emulator = await startOpenIm(t)
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(services, await buildServices(gatewayConfig(emulator.url), app.log))
    for (const earlier of before) await app.register(earlier)
    await t.rejects(async () => { await app.register(plugin) }, { code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED', message: new RegExp(`'${missing}'`) })
  })
}
