import { databaseRedisCheck } from '../redis/database-check.js'
import type { RedisCheck } from '../redis/shared-redis.js'
import { tokenStoreRedisCheck } from '../provisioning/token-store/scripts.js'
import { rateLimitRedisCheck } from './plugins/rate-limit-store.js'

/**
 * Every kind of command the gateway runs on Redis, each on a throw-away key: SharedRedis runs them before it
 * trusts a Redis (connected, or found back), and npm run doctor runs them to say what a Redis refuses. A new
 * user of Redis adds its own here.
 */
export const gatewayRedisChecks: RedisCheck[] = [databaseRedisCheck, rateLimitRedisCheck, tokenStoreRedisCheck]
