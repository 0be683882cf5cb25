import { Redis } from 'ioredis'
import { gatewayRedisChecks } from '../../http/redis-checks.js'
import { redisErrorText, unusableRedis } from '../../redis/replies.js'
import type { Check } from '../context.js'
import { displayUrl, type Outcome } from '../report.js'

/** Redis's version from INFO, which an ACL may refuse: the gateway never runs it, so that is no failure. */
async function serverVersion (client: Redis): Promise<string | undefined> {
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1]
  } catch {
    return undefined
  }
}

/** What the gateway runs, each on a throw-away key: the first one this Redis refuses, as a failure. */
async function refusal (client: Redis, where: string): Promise<Outcome | undefined> {
  for (const check of gatewayRedisChecks) {
    try {
      await check.run(client)
    } catch (error) {
      const problem = unusableRedis(error)
      return {
        status: 'fail',
        summary: `${where} answers PING but refuses ${check.what}: ${problem?.reason ?? redisErrorText(error)}`,
        hint: `${problem?.hint ?? 'the gateway runs this on every rate-limited request'}; ` +
          'until then every request falls back to per-replica limits'
      }
    }
  }
  return undefined
}

/**
 * 7b. REDIS_URL answers and runs what the gateway runs (the rate limiter's script): a Redis that answers PING
 * but refuses the script (an ACL, a cluster, a proxy or managed Redis without scripting) fails here, as it
 * keeps the gateway's Redis degraded.
 */
export const redis: Check = {
  id: 'gateway.redis',
  title: 'Redis',
  async run (ctx) {
    const url = ctx.config.redisUrl
    if (url === undefined) return { status: 'skip', summary: 'REDIS_URL unset: each replica counts rate limits on its own' }
    if (!URL.canParse(url)) return { status: 'fail', summary: 'REDIS_URL is not a URL', hint: 'REDIS_URL must look like redis://:<password>@host:6379/0' }
    // Its own short-lived connection, failing fast: the doctor must not wait on ioredis's reconnects.
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: ctx.timeoutMs,
      commandTimeout: ctx.timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      enableReadyCheck: false
    })
    // ioredis rejects a failed connect with "Connection is closed."; the reason comes as an 'error' event.
    let reason: Error | undefined
    client.on('error', (error: Error) => { reason ??= error })
    const started = performance.now()
    try {
      await client.connect()
      await client.ping()
      const pingMs = Math.round(performance.now() - started)
      const version = await serverVersion(client)
      const refused = await refusal(client, displayUrl(url))
      if (refused !== undefined) return { ...refused, facts: { version: version ?? null } }
      const runs = gatewayRedisChecks.map((check) => check.what).join(', ')
      const summary = `${displayUrl(url)} answers (Redis ${version ?? '?'}, ${pingMs} ms to connect and PING) and runs ${runs}`
      return { status: 'pass', summary, facts: { version: version ?? null } }
    } catch (error) {
      const message = (reason ?? error as Error).message
      const refused = /WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message)
      return {
        status: 'fail',
        summary: `${displayUrl(url)}: ${refused ? 'the password was refused' : message.split('\n')[0]}`,
        hint: refused
          ? 'REDIS_URL must hold the password Redis expects: redis://:<password>@host:6379/0 (rediss:// for TLS)'
          : 'REDIS_URL must point at a Redis reachable from here; until it answers every replica keeps its own rate limits'
      }
    } finally {
      client.disconnect()
    }
  }
}
