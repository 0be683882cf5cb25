import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { ConfigError, redisSecrets, type RedisConnectionSettings } from '../config/index.js'
import { createRedisClient, describeRedis, type RedisClient } from './connection.js'
import { KeyNames } from './key-names.js'
import { diagnoseConnection } from './reach.js'
import {
  connectionProblem, outcomeUnknown, unusableRedis, type RedisCause, type RedisDiagnosisContext, type RedisProblem
} from './replies.js'

/** Thrown by SharedRedis.run while Redis counts as unavailable, or when a command failed: use the per-replica fallback. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable'
  /** True when the command was sent and may have run (a timeout, a connection lost): its outcome is unknown. */
  readonly outcomeUnknown: boolean
  constructor (message: string, outcomeUnknown = false) {
    super(message)
    this.outcomeUnknown = outcomeUnknown
  }
}

/** A command the gateway runs on Redis, run on a throw-away key to see whether this Redis lets it. */
export interface RedisCheck {
  /** What it stands for, in a report: "the rate limiter's script". */
  what: string
  run (client: RedisClient): Promise<unknown>
}

export interface SharedRedisOptions {
  settings: RedisConnectionSettings
  /** OPENIM_SECRET: the key names are derived from it (key-names.ts). */
  secret: string
  log: { error (details: object, message: string): void, warn (details: object, message: string): void }
  /**
   * What the gateway runs, checked once connected and by every probe before the breaker closes: a Redis that
   * answers PING but refuses those commands (an ACL, a proxy without scripting) stays degraded, reported once,
   * instead of being found back every second and failing again.
   */
  checks?: RedisCheck[]
  /** Told once per change (the degraded gauge). */
  onStateChange?: (degraded: boolean) => void
  /** How often the breaker asks Redis whether it is back; also the least time it stays open. */
  probeIntervalMs?: number
}

const STARTUP_WAIT_MS = 2000
// A client ioredis ended on its own is connected again after this (each time it ends).
const RECONNECT_AFTER_END_MS = 200

type State = 'up' | 'down' | 'writes-refused'
const UNREACHABLE_CAUSES = new Set<RedisCause>(['refused', 'timeout', 'dns', 'closed'])

/**
 * The one Redis connection of a gateway process (standalone, behind Sentinel, or a Cluster), behind one circuit
 * breaker, used by everything that keeps state across replicas (the rate-limit store, the token store and its
 * mint lock), with the key names they all use:
 *
 *   const token = await redis.run((client) => client.get(redis.keys.pair(pair).token))
 *
 * `run` rejects with RedisUnavailable at once, without touching the network, while Redis counts as
 * unavailable; callers catch it and use their per-replica fallback (`available` says the same synchronously).
 * A failed connection, a command timeout or a reply saying Redis cannot serve us (replies.ts: LOADING,
 * NOPERM, an unknown command…) opens the breaker for every user at once; a background PING, then the
 * `checks`, close it once Redis serves again. A reply refusing writes only (OOM under noeviction, a
 * read-only replica) leaves reads running: `writable` is false, and writes fail fast with their reply. A
 * Cluster node behind REDIS_URL (MOVED, ASK) keeps the breaker open for good, said once, rather than
 * flapping. Other reply errors are the caller's and pass through unchanged. Each change is logged (the
 * cause, the reason and a hint; never a credential) and reported once, not per request.
 */
export class SharedRedis {
  readonly client: RedisClient
  readonly keys: KeyNames
  readonly topology: RedisConnectionSettings['topology']['kind']
  private state: State = 'up'
  private lastCause?: RedisCause
  private wrongTopology = false
  private probing?: NodeJS.Timeout
  private reconnecting?: NodeJS.Timeout
  private closed = false
  private lastConnectionError?: unknown
  private readonly probeIntervalMs: number
  private readonly diagnosis: RedisDiagnosisContext
  private readonly recoveryListeners: Array<() => void> = []

  private constructor (private readonly options: SharedRedisOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? 1000
    this.topology = options.settings.topology.kind
    this.keys = new KeyNames(options.secret)
    const { commandTimeoutMs } = options.settings
    this.diagnosis = { topology: this.topology, commandTimeoutMs, secrets: redisSecrets(options.settings) }
    this.client = createRedisClient(options.settings)
    // ioredis emits 'error' on every failed (re)connection; the breaker reports the state change once instead,
    // with the last of them as its cause.
    const remember = (error: unknown) => { this.lastConnectionError = error }
    this.client.on('error', remember)
    this.client.on('node error', remember)
    this.client.on('sentinelError', remember)
    // Before the first connection, connect() reports the failure once; failed attempts also emit 'close'.
    let connected = false
    this.client.on('close', () => {
      if (connected && !this.closed) this.markDown(this.connectionProblem('the connection closed'))
    })
    this.client.on('ready', () => {
      connected = true
      if (this.state !== 'up') this.probeNow()
    })
    // Behind Sentinel, ioredis gives up for good when the sentinels' +switch-master reaches its failover detector
    // while it is asking them where the primary is: SentinelConnector.connect() then throws "Connection is
    // closed." and Redis._connect() sets the status 'end' without scheduling a retry (ioredis 5.11). A client
    // that ends without us closing it is connected again, so the gateway follows every failover.
    if (!(this.client instanceof Cluster)) {
      const client = this.client
      client.on('end', () => {
        if (this.closed) return
        clearTimeout(this.reconnecting)
        this.reconnecting = setTimeout(() => {
          if (!this.closed && client.status === 'end') client.connect().catch(remember)
        }, RECONNECT_AFTER_END_MS).unref()
      })
    }
  }

  /**
   * Connects, waiting a little for the first connection so the first requests already share state. A Redis
   * that is not reachable is no reason to stop (degraded until it answers); a Redis of another topology
   * than the one configured is (a ConfigError naming the variable to use).
   */
  static async connect (options: SharedRedisOptions): Promise<SharedRedis> {
    const redis = new SharedRedis(options)
    // Not events.once(): that rejects on the 'error' every failed connection attempt emits.
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => redis.client.once('ready', () => resolve(true))),
      sleep(Math.max(STARTUP_WAIT_MS, options.settings.commandTimeoutMs * 2), false, { ref: false })
    ])
    if (!ready) {
      const problem = await redis.startProblem(`not reachable at start (${describeRedis(options.settings)})`)
      if (problem.cause === 'topology' && /cluster support disabled/i.test(problem.reason)) {
        await redis.close()
        throw new ConfigError(`invalid configuration: ${problem.hint}`)
      }
      redis.markDown(problem)
      return redis
    }
    if (await redis.isClusterNode()) {
      await redis.close()
      throw new ConfigError(`invalid configuration: ${options.settings.topology.kind === 'standalone' ? 'REDIS_URL' : 'REDIS_SENTINELS'} ` +
        'points at a Redis Cluster node: list the cluster\'s nodes in REDIS_CLUSTER_NODES instead')
    }
    const problem = await redis.checkCommands()
    if (problem !== undefined) redis.markDown(problem)
    return redis
  }

  /** Reads (and everything else) may be sent. */
  get available (): boolean { return this.state !== 'down' }
  /** Writes may succeed too: Redis is neither unavailable nor refusing writes. */
  get writable (): boolean { return this.state === 'up' }

  /**
   * For /readyz: `unreachable` when no answer comes (refused, timed out, closed, no such host), `degraded` when
   * Redis answers but cannot serve the gateway (credentials, TLS, topology, permissions, writes refused).
   */
  get readiness (): 'ok' | 'unreachable' | 'degraded' {
    if (this.state === 'up') return 'ok'
    if (this.state === 'writes-refused') return 'degraded'
    return UNREACHABLE_CAUSES.has(this.lastCause ?? 'closed') ? 'unreachable' : 'degraded'
  }

  /** Told each time Redis serves again after being unavailable or refusing writes. */
  onRecovered (listener: () => void) {
    this.recoveryListeners.push(listener)
  }

  /** Runs one command (or a script) on Redis, or fails at once while Redis is unavailable. */
  async run<T> (command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.state === 'down') throw new RedisUnavailable('Redis is unavailable (circuit open)')
    try {
      return await (this.client instanceof Cluster ? this.bounded(command(this.client)) : command(this.client))
    } catch (error) {
      const problem = unusableRedis(error, this.diagnosis)
      if (problem === undefined) throw error
      this.markDown(problem)
      throw new RedisUnavailable(`Redis is unavailable: ${problem.reason}`, outcomeUnknown(error))
    }
  }

  /**
   * A Cluster queues a command while it has no slot map (starting, or every node lost), where no command timeout
   * runs yet: bounded here like any other.
   */
  private async bounded<T> (command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('Command timed out')), this.options.settings.commandTimeoutMs)
    })
    try {
      return await Promise.race([command, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.probing)
    clearTimeout(this.reconnecting)
    this.client.disconnect()
  }

  /** The first connection's failure, by its real cause (reach.ts looks deeper where ioredis says only "closed"). */
  private async startProblem (context: string): Promise<RedisProblem> {
    const error = this.lastConnectionError ?? new Error('no answer')
    const problem = await diagnoseConnection(error, this.options.settings, this.diagnosis)
    return { ...problem, reason: `${context}: ${problem.reason}` }
  }

  private connectionProblem (context: string): RedisProblem {
    if (this.lastConnectionError === undefined) {
      return { cause: 'closed', reason: context, hint: 'it is used again once it answers', scope: 'all' }
    }
    const problem = connectionProblem(this.lastConnectionError, this.diagnosis)
    return { ...problem, reason: `${context}: ${problem.reason}` }
  }

  /** Whether a server reached as standalone or through Sentinel is a Cluster node (INFO may be refused: then no). */
  private async isClusterNode (): Promise<boolean> {
    if (this.client instanceof Cluster) return false
    try {
      return /cluster_enabled:1/.test(await this.client.info('cluster'))
    } catch {
      return false
    }
  }

  /** The first problem the checks meet, or undefined when this Redis runs everything the gateway runs. */
  private async checkCommands (): Promise<RedisProblem | undefined> {
    for (const check of this.options.checks ?? []) {
      try {
        await check.run(this.client)
      } catch (error) {
        const problem = unusableRedis(error, this.diagnosis)
        if (problem !== undefined) return { ...problem, reason: `${check.what}: ${problem.reason}` }
      }
    }
    return undefined
  }

  private markDown (problem: RedisProblem) {
    if (this.closed) return
    const next: State = problem.scope === 'writes' ? 'writes-refused' : 'down'
    if (problem.lasting === true) this.wrongTopology = true
    // A Redis refusing writes that then fails altogether is down; one that is down does not get "better" by a reply.
    if (this.state === next || this.state === 'down') return
    this.lastCause = problem.cause
    const wasUp = this.state === 'up'
    this.state = next
    if (wasUp) this.options.onStateChange?.(true)
    const { cause, reason, hint } = problem
    this.options.log.error({ cause, reason, hint }, next === 'down'
      ? 'Redis degraded: every user of Redis works per replica until it serves again'
      : 'Redis degraded: it refuses writes; reads go on, and what would be written is kept per replica until it takes writes again')
    if (!this.wrongTopology) this.scheduleProbe()
  }

  private markUp () {
    if (this.state === 'up' || this.closed) return
    this.state = 'up'
    this.options.onStateChange?.(false)
    this.options.log.warn({}, 'Redis recovered: state is shared across replicas again')
    for (const listener of this.recoveryListeners) listener()
  }

  private scheduleProbe () {
    clearTimeout(this.probing)
    this.probing = setTimeout(() => this.probeNow(), this.probeIntervalMs).unref()
  }

  private probeNow () {
    if (this.closed || this.wrongTopology) return
    clearTimeout(this.probing)
    void this.probe()
  }

  private async probe () {
    let serves = false
    try {
      const { client } = this
      if (client instanceof Cluster) {
        // A Cluster is back once every primary in its slot map answers: learning first where a promoted replica
        // serves its slots now, rather than at the next periodic refresh (else the probe's own keys, served by
        // one node, would find it back while the slots of a dead primary still point at it).
        await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()))
        await Promise.all(client.nodes('master').map((node) => node.ping()))
      } else {
        await client.ping()
      }
      serves = await this.checkCommands() === undefined
    } catch {}
    if (serves) this.markUp()
    else if (this.state !== 'up') this.scheduleProbe()
  }
}
