import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config/index.js'
import type { Metrics } from '../../operations/metrics.js'
import type { SharedRedis } from '../../redis/shared-redis.js'
import { LocalMintLock } from '../mint-lock.js'
import { TokenSealer } from './crypto.js'
import { LocalSessionStore } from './local.js'
import { MemoryTokenStore } from './memory.js'
import { RedisSessionStore, type LocalToken } from './redis.js'
import type { SessionStore } from './store.js'

/**
 * The remembered tokens and mint locks of this replica: in Redis (shared by every replica, with a bounded copy
 * in memory) when there is one, else in memory alone.
 */
export function sessionStore (config: Config, redis: SharedRedis | undefined, metrics: Metrics, log: FastifyBaseLogger): SessionStore {
  const memory = new MemoryTokenStore<LocalToken>(config.session.cacheMaxEntries, () => metrics.tokenStoreEvictions.inc())
  // A holder that dies blocks the pair for its whole request deadline plus one OpenIM call sent before it.
  const leaseMs = config.requestDeadlineMs + config.openim.timeoutMs
  const local = new LocalMintLock(leaseMs)
  if (redis === undefined) return new LocalSessionStore(memory, local)
  return new RedisSessionStore({
    redis,
    sealer: new TokenSealer(config.openim.secret),
    memory,
    local,
    leaseMs,
    log,
    events: {
      ambiguousAcquire: () => metrics.mintLockAmbiguous.inc(),
      unsharedMint: () => metrics.degradedMints.inc()
    }
  })
}
