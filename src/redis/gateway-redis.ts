import type { Config } from '../config/index.js'
import { gatewayRedisChecks } from '../http/redis-checks.js'
import type { Metrics } from '../operations/metrics.js'
import { SharedRedis, type SharedRedisOptions } from './shared-redis.js'

/**
 * The gateway's shared Redis, as configured (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES), with every
 * check of what the gateway runs and the degraded gauge; undefined when no Redis is configured.
 */
export async function connectSharedRedis (config: Config, log: SharedRedisOptions['log'],
  metrics: Metrics): Promise<SharedRedis | undefined> {
  if (config.redis === undefined) return undefined
  return await SharedRedis.connect({
    settings: config.redis,
    secret: config.openim.secret,
    log,
    checks: gatewayRedisChecks,
    onStateChange: (degraded) => metrics.redisDegraded.set(degraded ? 1 : 0)
  })
}
