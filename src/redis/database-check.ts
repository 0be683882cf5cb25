import { Cluster } from 'ioredis'
import type { RedisCheck } from './shared-redis.js'

/**
 * The database REDIS_DB (or REDIS_URL's `/<db>`) names, selected again: ioredis selects it on connect, but when
 * Redis refuses the SELECT (an ACL user without +select) it only emits an error and goes on in database 0, where
 * the gateway would then write beside whatever else lives there (OpenIM's own keys, often). A Cluster has database
 * 0 only.
 */
export const databaseRedisCheck: RedisCheck = {
  what: 'SELECT of the database REDIS_DB or REDIS_URL names',
  async run (client) {
    if (client instanceof Cluster) return
    const db = client.options.db ?? 0
    if (db !== 0) await client.select(db)
  }
}
