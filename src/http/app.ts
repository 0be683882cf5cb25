import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import { OpenImClient } from '../openim/client.js'
import { OpenImTransport } from '../openim/transport.js'
import { ProvisioningService } from '../provisioning/service.js'
import { registerErrorHandling } from './error-handler.js'
import { registerSwagger } from './plugins/swagger.js'
import health from './routes/health.js'
import provision from './routes/provision.js'
import { ErrorResponse } from './schemas.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    openim: OpenImClient
    provisioning: ProvisioningService
  }
}

export interface BuildOptions {
  config: Config
  /** Fastify logger options (tests pass a stream to read the log lines). */
  logger?: FastifyServerOptions['logger']
}

// A caller's x-request-id is reused (and sent to OpenIM as operationID) only when it is short and URL-safe.
const SANE_REQUEST_ID = /^[A-Za-z0-9._~-]{1,64}$/

function requestId (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

export const REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.token', 'req.headers.cookie',
  'secret', 'token', 'adminToken', '*.secret', '*.token', '*.adminToken'
]

/** The gateway as a Fastify instance, not listening: server.ts listens, tests inject. */
export async function buildApp ({ config, logger }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ?? { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    genReqId: requestId,
    requestIdHeader: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const transport = new OpenImTransport({
    baseUrl: config.openim.apiUrl,
    timeoutMs: config.openim.timeoutMs,
    ...config.openim.pool,
    onCall: (call) => app.log.debug({ openim: call }, 'OpenIM call')
  })
  const openim = new OpenImClient({
    transport,
    secret: config.openim.secret,
    adminUserID: config.openim.adminUserID,
    apiMode: config.openim.apiMode,
    adminTokenTtlMs: config.openim.adminTokenTtlMs,
    events: {
      generationDetected: (generation) => app.log.info({ generation }, 'OpenIM API generation detected'),
      adminTokenMinted: (generation) => app.log.debug({ generation }, 'OpenIM admin token minted')
    }
  })
  app.decorate('config', config)
  app.decorate('openim', openim)
  app.decorate('provisioning', new ProvisioningService({ openim }))
  app.addHook('onClose', async () => { await openim.close() })
  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })

  // A JSON API: anything but application/json is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain')
  app.addSchema(ErrorResponse)
  registerErrorHandling(app)
  await registerSwagger(app)
  await app.register(health)
  await app.register(provision)
  return app
}
