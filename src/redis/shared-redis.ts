import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { createRedisClient, redactedUrl } from './connection.js'
import { unusableRedis, type RedisProblem } from './replies.js'

/** Thrown by SharedRedis.run while Redis counts as unavailable: use the per-replica fallback. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable'
}

/** A command the gateway runs on Redis, run on a throw-away key to see whether this Redis lets it. */
export interface RedisCheck {
  /** What it stands for, in a report: "the rate limiter's script". */
  what: string
  run (client: Redis): Promise<unknown>
}

export interface SharedRedisOptions {
  url: string
  log: { error (details: object, message: string): void, warn (details: object, message: string): void }
  /**
   * What the gateway runs, checked once connected and by every probe before the breaker closes: a Redis that
   * answers PING but refuses those commands (an ACL, a cluster, a proxy without scripting) stays degraded,
   * reported once, instead of being found back every second and failing again.
   */
  checks?: RedisCheck[]
  /** Told once per change (the degraded gauge). */
  onStateChange?: (degraded: boolean) => void
  /** How often the breaker asks Redis whether it is back; also the least time it stays open. */
  probeIntervalMs?: number
}

const STARTUP_WAIT_MS = 2000

/**
 * The one Redis connection of a gateway process, behind one circuit breaker, used by everything that keeps
 * state across replicas (the rate-limit store today; the token store and the cross-replica lock next):
 *
 *   const token = await redis.run((client) => client.get(key))
 *   await redis.run((client) => client.set(key, value, 'PX', ttlMs))
 *   const locked = (await redis.run((client) => client.set(lockKey, holder, 'PX', ttlMs, 'NX'))) === 'OK'
 *   await redis.run((client) => client.eval(RELEASE_IF_HOLDER_LUA, 1, lockKey, holder))
 *
 * `run` rejects with RedisUnavailable at once, without touching the network, while Redis counts as
 * unavailable; callers catch it and use their per-replica fallback (`available` says the same
 * synchronously). A failed connection, a command timeout or a reply saying Redis cannot serve us
 * (src/redis/replies.ts: LOADING, OOM, NOPERM, MOVED, an unknown command…) opens the breaker for every user at
 * once; a background PING, then the `checks`, close it once Redis serves again. Other reply errors are the
 * caller's and pass through unchanged: callers fall back for that request. The state change is logged (with
 * the reason and a hint) and reported once, not per request.
 */
export class SharedRedis {
  readonly client: Redis
  private degraded = false
  private probing?: NodeJS.Timeout
  private closed = false
  private readonly probeIntervalMs: number

  private constructor (private readonly options: SharedRedisOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? 1000
    this.client = createRedisClient(options.url)
    // Before the first connection, connect() reports the failure once; failed attempts also emit 'close'.
    let connected = false
    this.client.on('close', () => { if (connected && !this.closed) this.markDown({ reason: 'the connection closed', hint: 'it is used again once it answers' }) })
    this.client.on('ready', () => {
      connected = true
      if (this.degraded) this.probeNow()
    })
  }

  /** Connects, waiting a little for the first connection so the first requests already share state. */
  static async connect (options: SharedRedisOptions): Promise<SharedRedis> {
    const redis = new SharedRedis(options)
    // Not events.once(): that rejects on the 'error' every failed connection attempt emits.
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => redis.client.once('ready', () => resolve(true))),
      sleep(STARTUP_WAIT_MS, false, { ref: false })
    ])
    if (!ready) {
      redis.markDown({ reason: `not reachable at start (${redactedUrl(options.url)})`, hint: 'it is used once it answers' })
      return redis
    }
    const problem = await redis.checkCommands()
    if (problem !== undefined) redis.markDown(problem)
    return redis
  }

  get available (): boolean { return !this.degraded }

  /** Runs one command (or a MULTI, or a script) on Redis, or fails at once while Redis is unavailable. */
  async run<T> (command: (client: Redis) => Promise<T>): Promise<T> {
    if (this.degraded) throw new RedisUnavailable('Redis is unavailable (circuit open)')
    try {
      return await command(this.client)
    } catch (error) {
      const problem = unusableRedis(error)
      if (problem === undefined) throw error
      this.markDown(problem)
      throw new RedisUnavailable(`Redis is unavailable: ${problem.reason}`)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.probing)
    this.client.disconnect()
  }

  /** The first problem the checks meet, or undefined when this Redis runs everything the gateway runs. */
  private async checkCommands (): Promise<RedisProblem | undefined> {
    for (const check of this.options.checks ?? []) {
      try {
        await check.run(this.client)
      } catch (error) {
        const problem = unusableRedis(error)
        if (problem !== undefined) return { ...problem, reason: `${check.what}: ${problem.reason}` }
      }
    }
    return undefined
  }

  private markDown ({ reason, hint }: RedisProblem) {
    if (this.degraded || this.closed) return
    this.degraded = true
    this.options.onStateChange?.(true)
    this.options.log.error({ reason, hint }, 'Redis degraded: every user of Redis works per replica until it serves again')
    this.scheduleProbe()
  }

  private markUp () {
    if (!this.degraded || this.closed) return
    this.degraded = false
    this.options.onStateChange?.(false)
    this.options.log.warn({}, 'Redis recovered: state is shared across replicas again')
  }

  private scheduleProbe () {
    clearTimeout(this.probing)
    this.probing = setTimeout(() => this.probeNow(), this.probeIntervalMs).unref()
  }

  private probeNow () {
    if (this.closed) return
    clearTimeout(this.probing)
    void this.probe()
  }

  private async probe () {
    let serves = false
    try {
      await this.client.ping()
      serves = await this.checkCommands() === undefined
    } catch {}
    if (serves) this.markUp()
    else if (this.degraded) this.scheduleProbe()
  }
}
