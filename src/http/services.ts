import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config/index.js'
import { asGatewayError } from '../errors.js'
import { OpenImClient } from '../openim/client.js'
import { OpenImError } from '../openim/errors.js'
import { OpenImTransport } from '../openim/transport.js'
import { Metrics } from '../operations/metrics.js'
import { UserImporter } from '../provisioning/import.js'
import { ProfileService } from '../provisioning/profiles.js'
import { ProvisioningService } from '../provisioning/service.js'
import { TokenIssuer } from '../provisioning/token-issuer.js'
import { sessionStore } from '../provisioning/token-store/sessions.js'
import { connectSharedRedis } from '../redis/gateway-redis.js'
import type { SharedRedis } from '../redis/shared-redis.js'
import { Authenticator } from './auth.js'
import { importRowProblem } from './schemas/index.js'
import { isReservedUserID } from './user-guard.js'

/** What the routes and plugins work with; app.ts decorates the app with each (plugins/services.ts). */
export interface Services {
  config: Config
  metrics: Metrics
  openim: OpenImClient
  /** The one Redis connection and its breaker (src/redis/), when a Redis is configured. */
  redis: SharedRedis | undefined
  authenticator: Authenticator
  provisioning: ProvisioningService
  profiles: ProfileService
  importer: UserImporter
}

/** The services of one gateway, wired to each other, to the metrics and to the app's log. */
export async function buildServices (config: Config, log: FastifyBaseLogger): Promise<Services> {
  const metrics = new Metrics()
  const openim = openImClient(config, metrics, log)
  const redis = await connectSharedRedis(config, log, metrics)
  const { reservedUserIDs } = config.openim
  return {
    config,
    metrics,
    openim,
    redis,
    authenticator: await Authenticator.create(config.auth),
    provisioning: provisioningService(config, openim, redis, metrics, log),
    profiles: new ProfileService(openim),
    importer: new UserImporter({
      openim,
      isReserved: (userID) => isReservedUserID(userID, reservedUserIDs),
      rowProblem: importRowProblem,
      deadlineMs: config.import.deadlineMs,
      onOutcome: (outcome, code, count) => metrics.usersImported.inc({ outcome, code }, count)
    })
  }
}

// LOG_LEVEL's values (config/) at which debug lines are written.
const DEBUG_LEVELS = new Set(['debug', 'trace'])

function openImClient (config: Config, metrics: Metrics, log: FastifyBaseLogger): OpenImClient {
  const transport = new OpenImTransport({
    baseUrl: config.openim.apiUrl,
    timeoutMs: config.openim.timeoutMs,
    ...config.openim.pool,
    onCall: ({ operationID, ...call }) => {
      metrics.openimCallDuration.observe({ path: call.path, outcome: call.outcome }, call.durationMs / 1000)
      // Every call passes here: its debug line's object is built only when debug lines are written.
      if (DEBUG_LEVELS.has(log.level)) {
        log.debug({ reqId: operationID, openim: { ...call, durationMs: Math.round(call.durationMs * 100) / 100 } }, 'OpenIM call')
      }
    }
  })
  metrics.readPendingOpenImCalls(() => transport.pendingCalls)
  return new OpenImClient({
    transport,
    secret: config.openim.secret,
    adminUserID: config.openim.adminUserID,
    apiMode: config.openim.apiMode,
    adminTokenTtlMs: config.openim.adminTokenTtlMs,
    events: {
      generationDetected: (generation) => log.info({ generation }, 'OpenIM API generation detected'),
      adminTokenMinted: (generation) => {
        metrics.adminTokenMints.inc({ generation })
        log.debug({ generation }, 'OpenIM admin token minted')
      }
    }
  })
}

/**
 * /provision and /revoke, with the tokens they hand out remembered in Redis (shared by every replica, with
 * this replica's memory as the fallback) or, without REDIS_URL, in memory.
 */
function provisioningService (config: Config, openim: OpenImClient, redis: SharedRedis | undefined, metrics: Metrics,
  log: FastifyBaseLogger): ProvisioningService {
  const store = sessionStore(config, redis, metrics, log)
  const issuer = new TokenIssuer({
    openim,
    store,
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
    onProvision: (outcome, error) => metrics.provisions.inc({ outcome, code: error === undefined ? '' : failureLabel(error) }),
    onShared: () => metrics.sharedProvisions.inc()
  })
}

/** A failed provision's metric label: OpenIM's kind of failure, else the code the gateway answers with. */
const failureLabel = (error: unknown) => error instanceof OpenImError ? error.kind : asGatewayError(error)?.code ?? 'internal'
