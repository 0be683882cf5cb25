import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { redisSecrets } from '../../config/index.js'
import { gatewayRedisChecks } from '../../http/redis-checks.js'
import { createRedisClient, describeRedis, type RedisClient } from '../../redis/connection.js'
import { diagnoseConnection } from '../../redis/reach.js'
import { redisErrorText, unusableRedis, type RedisDiagnosisContext } from '../../redis/replies.js'
import type { Check } from '../context.js'
import type { Outcome } from '../report.js'

/** Redis's version from INFO, which an ACL may refuse: the gateway needs it for nothing, so that is no failure. */
async function serverInfo (client: RedisClient, section: string): Promise<string> {
  try {
    return client instanceof Cluster ? await client.nodes('master')[0]?.info(section) ?? '' : await client.info(section)
  } catch {
    return ''
  }
}

/** What the gateway runs, each on a throw-away key: the first one this Redis refuses, as a failure. */
async function refusal (client: RedisClient, where: string, diagnosis: RedisDiagnosisContext): Promise<Outcome | undefined> {
  for (const check of gatewayRedisChecks) {
    try {
      await check.run(client)
    } catch (error) {
      const problem = unusableRedis(error, diagnosis)
      return {
        status: 'fail',
        summary: `${where} answers PING but refuses ${check.what}: ${problem?.reason ?? redisErrorText(error, diagnosis.secrets)}`,
        hint: `${problem?.hint ?? 'the gateway runs this on every provision'}; until then every replica keeps its own rate limits, ` +
          'tokens and locks'
      }
    }
  }
  return undefined
}

/** Where the data is served, as this topology sees it: the primary the sentinels name, or the cluster's primaries. */
async function servedBy (client: RedisClient): Promise<string> {
  if (client instanceof Cluster) return `${client.nodes('master').length} primaries serving every slot`
  if ((client.options.sentinels?.length ?? 0) === 0) return ''
  return `primary at ${client.stream.remoteAddress ?? '?'}:${client.stream.remotePort ?? '?'}`
}

/**
 * 7b. The configured Redis (standalone, behind Sentinel, or a Cluster) answers and runs what the gateway runs: a
 * connection failure is named by its real cause (authentication, TLS, refused, timeout, a server of another
 * topology), never by a credential; a Redis that answers PING but refuses the scripts (an ACL, a proxy or
 * managed Redis without scripting) fails here, as it keeps the gateway's Redis degraded.
 */
export const redis: Check = {
  id: 'gateway.redis',
  title: 'Redis',
  async run (ctx) {
    const settings = ctx.config.redis
    if (settings === undefined) {
      return {
        status: 'skip',
        summary: 'no Redis configured (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES): each replica keeps its own rate limits, ' +
          'tokens and locks'
      }
    }
    const where = describeRedis(settings)
    const diagnosis: RedisDiagnosisContext = {
      topology: settings.topology.kind, commandTimeoutMs: ctx.timeoutMs, secrets: redisSecrets(settings)
    }
    const failed = async (error: unknown): Promise<Outcome> => {
      const problem = await diagnoseConnection(error, settings, diagnosis)
      const summary = `${where}: ${problem.cause}: ${problem.reason}`
      return { status: 'fail', summary, hint: problem.hint, facts: { cause: problem.cause } }
    }
    // Its own short-lived connection, one attempt, failing fast: the doctor must not wait on ioredis's reconnects.
    const client = createRedisClient({ ...settings, commandTimeoutMs: ctx.timeoutMs }, { retry: false })
    // ioredis rejects a failed connect with "Connection is closed."; the reasons come as events.
    let reason: unknown
    for (const event of ['error', 'node error', 'sentinelError']) client.on(event, (error: unknown) => { reason = error })
    const started = performance.now()
    try {
      const ready = await Promise.race([
        new Promise<boolean>((resolve) => { client.once('ready', () => resolve(true)); client.once('end', () => resolve(false)) }),
        sleep(ctx.timeoutMs + 500, false, { ref: false })
      ])
      if (!ready) return await failed(reason ?? new Error(`no answer within ${ctx.timeoutMs} ms`))
      await client.ping()
      const pingMs = Math.round(performance.now() - started)
      if (!(client instanceof Cluster) && /cluster_enabled:1/.test(await serverInfo(client, 'cluster'))) {
        return {
          status: 'fail',
          summary: `${where} is a Redis Cluster node`,
          hint: 'list the cluster\'s nodes in REDIS_CLUSTER_NODES instead: the gateway refuses to start with this setting',
          facts: { cause: 'topology' }
        }
      }
      const version = /redis_version:(\S+)/.exec(await serverInfo(client, 'server'))?.[1] ?? null
      const refused = await refusal(client, where, diagnosis)
      if (refused !== undefined) return { ...refused, facts: { version } }
      const runs = gatewayRedisChecks.map((check) => check.what).join(', ')
      const served = await servedBy(client)
      return {
        status: 'pass',
        summary: `${where} answers (Redis ${version ?? '?'}${served === '' ? '' : `, ${served}`}, ${pingMs} ms to connect and PING) ` +
          `and runs ${runs}`,
        facts: { version, topology: settings.topology.kind }
      }
    } catch (error) {
      return await failed(reason ?? error)
    } finally {
      client.disconnect()
    }
  }
}
