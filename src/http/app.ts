import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../config/index.js'
import { OpenImClient } from '../openim/client.js'
import { OpenImTransport } from '../openim/transport.js'
import { Metrics } from '../operations/metrics.js'
import { UserImporter } from '../provisioning/import.js'
import { ProfileService } from '../provisioning/profiles.js'
import { LocalMintLock, RedisMintLock } from '../provisioning/mint-lock.js'
import { ProvisioningService } from '../provisioning/service.js'
import { TokenIssuer } from '../provisioning/token-issuer.js'
import { TokenSealer } from '../provisioning/token-store/crypto.js'
import { MemoryTokenStore } from '../provisioning/token-store/memory.js'
import { RedisTokenStore } from '../provisioning/token-store/redis.js'
import { SharedRedis } from '../redis/shared-redis.js'
import { Authenticator, callerLabel, type Caller } from './auth.js'
import { registerErrorHandling } from './error-handler.js'
import { loggablePath, productionLoggerOptions } from './logger.js'
import { limitConnections } from './connection-limits.js'
import { registerAuthFailureLimit } from './plugins/auth-failure-limit.js'
import { registerJsonBody } from './plugins/json-body.js'
import { echoRequestId } from './request-ids.js'
import { gatewayRedisChecks } from './redis-checks.js'
import { listenerOptions } from './listener-options.js'
import { registerOverloadProtection } from './plugins/overload.js'
import { registerRateLimit } from './plugins/rate-limit.js'
import { registerSecurity } from './plugins/security.js'
import { registerShutdownHandling } from './plugins/shutdown.js'
import { registerSwagger } from './plugins/swagger.js'
import clientScript from './routes/client-script.js'
import metricsRoute from './routes/metrics.js'
import operations from './routes/operations.js'
import provision from './routes/provision.js'
import revoke from './routes/revoke.js'
import users from './routes/users.js'
import usersImport from './routes/users-import.js'
import { ErrorResponse, ProvisionRequest, ProvisionResponse, RevokeRequest, RevokeResponse } from './schemas.js'
import { userSchemas, importValueProblem } from './user-schemas.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    openim: OpenImClient
    provisioning: ProvisioningService
    profiles: ProfileService
    importer: UserImporter
    metrics: Metrics
    /** The one Redis connection and its breaker (src/redis/), when REDIS_URL is set. */
    redis: SharedRedis | undefined
  }
  interface FastifyRequest {
    /** Set by the authentication hook on protected routes; undefined elsewhere and when it refused. */
    caller: Caller | undefined
  }
}

export interface BuildOptions {
  config: Config
  /** Fastify logger options; by default productionLoggerOptions (tests add a stream to read the log lines). */
  logger?: FastifyServerOptions['logger']
}

// Probes and scrapes arrive every few seconds: their request lines are debug, not info.
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * /provision and /revoke, with the tokens they hand out remembered in Redis (shared by every replica, with
 * this replica's memory as the fallback) or, without REDIS_URL, in memory.
 */
function provisioningService (config: Config, openim: OpenImClient, redis: SharedRedis | undefined, metrics: Metrics, log: FastifyBaseLogger) {
  const memory = new MemoryTokenStore(config.session.cacheMaxEntries, () => metrics.tokenStoreEvictions.inc())
  const sealer = new TokenSealer(config.openim.secret)
  // A holder that dies blocks the pair for its whole request deadline plus one OpenIM call sent before it.
  const leaseMs = config.requestDeadlineMs + config.openim.timeoutMs
  const store = redis === undefined ? memory : new RedisTokenStore(redis, sealer, memory, log)
  const issuer = new TokenIssuer({
    openim,
    store,
    lock: redis === undefined ? new LocalMintLock() : new RedisMintLock(redis, sealer, leaseMs),
    reuse: config.session.tokenReuse,
    minRemainingSeconds: config.session.minRemainingSeconds,
    events: {
      lookup: (result) => metrics.tokenStoreLookups.inc({ result }),
      lockWait: () => metrics.mintLockWaits.inc(),
      takeover: () => metrics.mintLockTakeovers.inc()
    }
  })
  return new ProvisioningService({
    openim,
    issuer,
    store,
    onProvision: (outcome, code) => metrics.provisions.inc({ outcome, code: code ?? '' }),
    onShared: () => metrics.sharedProvisions.inc()
  })
}

/** The gateway as a Fastify instance, not listening: server.ts listens, tests inject. */
export async function buildApp ({ config, logger }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ?? productionLoggerOptions(config.logLevel),
    // Our own onResponse hook writes the one line per request (with caller and latency).
    logController: new LogController({ disableRequestLogging: true }),
    ...listenerOptions(config.http),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const metrics = new Metrics()
  // Beyond these, new connections are refused at once: memory stays bounded whatever clients open, and no
  // one address can hold every connection (liveness probes come from another one).
  limitConnections(app.server, {
    total: config.http.maxConnections,
    perAddress: config.http.maxConnectionsPerAddress,
    onRefused: (limit) => metrics.connectionsRefused.inc({ listener: 'api', limit })
  })
  const transport = new OpenImTransport({
    baseUrl: config.openim.apiUrl,
    timeoutMs: config.openim.timeoutMs,
    ...config.openim.pool,
    onCall: ({ operationID, ...call }) => {
      metrics.openimCallDuration.observe({ path: call.path, outcome: call.outcome }, call.durationMs / 1000)
      app.log.debug({ reqId: operationID, openim: { ...call, durationMs: Math.round(call.durationMs * 100) / 100 } }, 'OpenIM call')
    }
  })
  const openim = new OpenImClient({
    transport,
    secret: config.openim.secret,
    adminUserID: config.openim.adminUserID,
    apiMode: config.openim.apiMode,
    adminTokenTtlMs: config.openim.adminTokenTtlMs,
    events: {
      generationDetected: (generation) => app.log.info({ generation }, 'OpenIM API generation detected'),
      adminTokenMinted: (generation) => {
        metrics.adminTokenMints.inc({ generation })
        app.log.debug({ generation }, 'OpenIM admin token minted')
      }
    }
  })
  metrics.readPendingOpenImCalls(() => transport.pendingCalls)
  const importer = new UserImporter({
    openim,
    reservedUserIDs: config.openim.reservedUserIDs,
    profileProblem: importValueProblem,
    deadlineMs: config.import.deadlineMs,
    onOutcome: (outcome, code, count) => metrics.usersImported.inc({ outcome, code }, count)
  })
  const redis = config.redisUrl === undefined
    ? undefined
    : await SharedRedis.connect({
      url: config.redisUrl,
      log: app.log,
      checks: gatewayRedisChecks,
      onStateChange: (degraded) => metrics.redisDegraded.set(degraded ? 1 : 0)
    })
  const provisioning = provisioningService(config, openim, redis, metrics, app.log)
  app.decorate('config', config)
  app.decorate('openim', openim)
  app.decorate('provisioning', provisioning)
  app.decorate('profiles', new ProfileService({ openim, reservedUserIDs: config.openim.reservedUserIDs }))
  app.decorate('importer', importer)
  app.decorate('metrics', metrics)
  app.decorate('redis', redis)
  app.addHook('onClose', async () => {
    await redis?.close()
    await openim.close()
  })
  echoRequestId(app)
  registerShutdownHandling(app)
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpRequestDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
    const line = {
      method: request.method,
      url: loggablePath(request.url),
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      caller: callerLabel(request.caller),
      ip: request.ip
    }
    if (QUIET_ROUTES.has(route)) request.log.debug(line, 'request completed')
    else request.log.info(line, 'request completed')
  })

  // A JSON API: anything but application/json is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain')
  registerJsonBody(app)
  for (const schema of [ErrorResponse, ProvisionRequest, ProvisionResponse, RevokeRequest, RevokeResponse]) app.addSchema(schema)
  for (const schema of userSchemas(config.import.maxUsers)) app.addSchema(schema)
  registerErrorHandling(app)
  await registerOverloadProtection(app, config.overloadMaxEventLoopDelayMs)
  await registerSecurity(app, config.corsOrigins)
  await registerSwagger(app, config.publicBaseUrl)
  await app.register(operations)
  await app.register(clientScript)
  // With METRICS_PORT, /metrics lives on its own listener only (src/http/metrics-app.ts).
  if (config.metricsPort === undefined) await app.register(metricsRoute, { metrics })

  const authenticator = await Authenticator.create(config.auth)
  app.decorateRequest('caller', undefined)
  // Everything that can reach OpenIM on a caller's behalf sits behind authentication.
  await app.register(async (protectedRoutes) => {
    // Their answers may carry tokens: never stored by a browser or proxy cache (RFC 6749 §5.1).
    protectedRoutes.addHook('onSend', async (_request, reply) => { reply.header('cache-control', 'no-store').header('pragma', 'no-cache') })
    registerAuthFailureLimit(protectedRoutes, app, config, (headers) => authenticator.hasValidApiKey(headers))
    protectedRoutes.addHook('onRequest', async (request) => { request.caller = await authenticator.authenticate(request.headers) })
    await registerRateLimit(protectedRoutes, app, config, redis)
    await protectedRoutes.register(provision)
    await protectedRoutes.register(revoke)
    await protectedRoutes.register(users)
    await protectedRoutes.register(usersImport)
  })
  return app
}
