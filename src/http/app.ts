import { fileURLToPath } from 'node:url'
import autoLoad from '@fastify/autoload'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from '../config/index.js'
import { limitConnections } from './connection-limits.js'
import { listenerOptions } from './listener-options.js'
import { productionLoggerOptions } from './logger.js'
import callContext from './plugins/call-context.js'
import errorHandling, { frameworkError } from './plugins/error-handling.js'
import jsonBody from './plugins/json-body.js'
import overload from './plugins/overload.js'
import requestIds from './plugins/request-ids.js'
import requestLog from './plugins/request-log.js'
import schemas from './plugins/schemas.js'
import security from './plugins/security.js'
import services from './plugins/services.js'
import shutdown from './plugins/shutdown.js'
import swagger from './plugins/swagger.js'
import { FORMATS } from './schemas/index.js'
import { buildServices } from './services.js'

export interface BuildOptions {
  config: Config
  /** Fastify logger options; by default productionLoggerOptions (tests add a stream to read the log lines). */
  logger?: FastifyServerOptions['logger']
}

/** The gateway as a Fastify instance, not listening: server.ts listens, tests inject. */
export async function buildApp ({ config, logger }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ?? productionLoggerOptions(config.logLevel),
    // plugins/request-log.ts writes the one line per request (with caller and latency).
    logController: new LogController({ disableRequestLogging: true }),
    ...listenerOptions(config.http),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, formats: FORMATS } },
    // What the router refuses before any route runs, in the one error shape too.
    frameworkErrors: frameworkError
  }).withTypeProvider<TypeBoxTypeProvider>()

  const built = await buildServices(config, app.log)
  // Beyond these, new connections are refused at once: memory stays bounded whatever clients open, and no
  // one address can hold every connection (liveness probes come from another one).
  limitConnections(app.server, {
    total: config.http.maxConnections,
    perAddress: config.http.maxConnectionsPerAddress,
    onRefused: (limit) => built.metrics.connectionsRefused.inc({ listener: 'api', limit })
  })

  // Each concern is a plugin that names the ones it needs before it: Fastify refuses to start otherwise.
  await app.register(services, built)
  await app.register(requestIds)
  await app.register(shutdown)
  await app.register(requestLog)
  await app.register(jsonBody)
  await app.register(schemas)
  await app.register(errorHandling)
  await app.register(callContext)
  await app.register(overload)
  await app.register(security)
  await app.register(swagger)
  // Routes are found, not listed: every file under routes/. Those under routes/authenticated/ act for a caller,
  // behind the authentication, failure and rate limits its autohooks.ts registers.
  const routes = fileURLToPath(new URL('routes', import.meta.url))
  await app.register(autoLoad, { dir: routes, autoHooks: true, cascadeHooks: true, dirNameRoutePrefix: false })
  return app
}
