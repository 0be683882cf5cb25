import { setTimeout as sleep } from 'node:timers/promises'
import { ReplyError, type Redis } from 'ioredis'
import { createRedisClient, redactedUrl } from './connection.js'

/** Thrown by SharedRedis.run while Redis counts as unavailable: use the per-replica fallback. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable'
}

export interface SharedRedisOptions {
  url: string
  log: { error (details: object, message: string): void, warn (details: object, message: string): void }
  /** Told once per change (the degraded gauge). */
  onStateChange?: (degraded: boolean) => void
  /** How often the breaker asks Redis whether it is back; also the least time it stays open. */
  probeIntervalMs?: number
}

// Redis answering that it cannot serve right now, as opposed to a command's own error (WRONGTYPE, NOSCRIPT…).
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|NOAUTH|WRONGPASS|CLUSTERDOWN|TRYAGAIN|OOM)\b/
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
 * synchronously). A failed connection, a command timeout or a "cannot serve" reply opens the breaker for
 * every user at once; a background PING closes it once Redis answers again. Other reply errors are the
 * caller's and pass through unchanged. The state change is logged and reported once, not per request.
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
    this.client.on('close', () => { if (connected && !this.closed) this.markDown('the connection closed') })
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
    if (!ready) redis.markDown(`not reachable at start (${redactedUrl(options.url)})`)
    return redis
  }

  get available (): boolean { return !this.degraded }

  /** Runs one command (or a MULTI, or a script) on Redis, or fails at once while Redis is unavailable. */
  async run<T> (command: (client: Redis) => Promise<T>): Promise<T> {
    if (this.degraded) throw new RedisUnavailable('Redis is unavailable (circuit open)')
    try {
      return await command(this.client)
    } catch (error) {
      if (!isUnavailability(error)) throw error
      this.markDown((error as Error).message)
      throw new RedisUnavailable(`Redis is unavailable: ${(error as Error).message}`)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.probing)
    this.client.disconnect()
  }

  private markDown (reason: string) {
    if (this.degraded || this.closed) return
    this.degraded = true
    this.options.onStateChange?.(true)
    this.options.log.error({ reason }, 'Redis degraded: every user of Redis works per replica until it answers again')
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
    this.client.ping().then(() => this.markUp(), () => { if (this.degraded) this.scheduleProbe() })
  }
}

function isUnavailability (error: unknown): boolean {
  return !(error instanceof ReplyError) || UNAVAILABLE_REPLIES.test((error as Error).message)
}
