import { KEY_PREFIX, type PairKeys } from '../../redis/key-names.js'
import { redisErrorText } from '../../redis/replies.js'
import { RedisUnavailable, type SharedRedis } from '../../redis/shared-redis.js'
import type { LocalMintLock } from '../mint-lock.js'
import type { TokenSealer } from './crypto.js'
import type { MemoryTokenStore } from './memory.js'
import { RedisPairFlow } from './redis-flow.js'
import type { PairFlow, RememberedToken, SessionStore, TokenPair } from './store.js'

/** A token in this replica's memory; `unshared`: Redis does not have it (minted or kept while Redis could not take it). */
export interface LocalToken extends RememberedToken {
  unshared?: true
}

export interface RedisSessionStoreOptions {
  redis: SharedRedis
  sealer: TokenSealer
  /** The copy of what this replica handed out or read, used when Redis cannot answer (TOKEN_CACHE_MAX_ENTRIES). */
  memory: MemoryTokenStore<LocalToken>
  local: LocalMintLock
  /** A lock's lease: a request's deadline plus one OpenIM call sent before it (a dead holder blocks no longer). */
  leaseMs: number
  log: { warn (details: object, message: string): void }
  events?: {
    /** A lock request whose outcome is unknown (it timed out, or its connection was lost, after it was sent). */
    ambiguousAcquire?: () => void
    /** A mint made without the cross-replica lock (Redis unavailable or refusing writes). */
    unsharedMint?: () => void
  }
}

// How long replicas write the previous release's names too (dual writes and dual locks), counted from the first
// time a replica of this release met this Redis: a rolling upgrade and a rollback fit in it.
const LEGACY_WRITES_MS = 24 * 3600_000
const LAYOUT_MARKER = `${KEY_PREFIX}key-layout-v2-since`
const MARK_LAYOUT = "redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])"
// Work owed to Redis (releases, tokens it could not take), done once it is back; each is useless past its `until`.
const MAX_OWED = 10_000

/**
 * Remembered tokens in Redis, shared by every replica: encrypted (crypto.ts), under key names that say nothing
 * about the user (key-names.ts), each expiring with its token, and the pair's mint lock beside them (the same
 * slot). A first provision costs three round trips (look: token or lock; renew, right before the mint; remember:
 * token and release), a reuse one, a revoke one. Each replica also keeps a bounded copy of what it handed out or
 * read, so a user holding a live token keeps it while Redis cannot answer (a blip, a pause, a failover, OOM); the
 * flow's rules for that are in redis-flow.ts.
 */
export class RedisSessionStore implements SessionStore {
  /** Until when the previous release's names are written too (standalone and Sentinel only); unknown: written. */
  private legacyWritesUntil = Number.POSITIVE_INFINITY
  private readonly owed = new Map<string, { until: number, settle: () => Promise<unknown> }>()
  private readonly repairsLogged = new Set<string>()

  constructor (readonly options: RedisSessionStoreOptions) {
    const { redis } = options
    if (redis.topology !== 'cluster') {
      void this.readLayoutMarker()
      redis.onRecovered(() => { void this.readLayoutMarker() })
    } else {
      this.legacyWritesUntil = 0
    }
    redis.onRecovered(() => this.settleOwed())
  }

  flow (pair: TokenPair): PairFlow {
    return new RedisPairFlow(this, pair)
  }

  /** A revoke: every platform's token deleted in one command (they share the user's slot), and this replica's copies. */
  async forget (userID: string, platformIDs: number[]): Promise<void> {
    const { redis, memory } = this.options
    for (const platformID of platformIDs) memory.forgetNow({ userID, platformID })
    if (platformIDs.length === 0) return
    const keys = platformIDs.flatMap((platformID) => this.tokenKeys({ userID, platformID }))
    const forget = async () => await redis.run((client) => client.del(...keys))
    try {
      await forget()
    } catch (error) {
      this.trouble(error, 'forget')
      // Redis may still hold them (it could not be asked, or the DEL's outcome is unknown): once it serves again they are
      // deleted, before any token minted after this revoke is written back (owed work runs in the order it was owed),
      // or another replica would find a revoked token, which OpenIM v3.7 still confirms.
      this.owe(`forget\u0000${keys.join('\u0000')}`, Number.POSITIVE_INFINITY, forget)
    }
  }

  /** The pair's keys: its own, then (standalone and Sentinel) the previous release's token, and lock while it writes them. */
  keys (pair: TokenPair): { pair: PairKeys, legacy?: PairKeys, legacyLocks: boolean } {
    const { redis } = this.options
    const own = redis.keys.pair(pair)
    if (redis.topology === 'cluster') return { pair: own, legacyLocks: false }
    return { pair: own, legacy: redis.keys.legacyPair(pair), legacyLocks: this.legacyWrites }
  }

  tokenKeys (pair: TokenPair): string[] {
    const { pair: own, legacy } = this.keys(pair)
    return legacy === undefined ? [own.token] : [own.token, legacy.token]
  }

  get legacyWrites (): boolean {
    return Date.now() < this.legacyWritesUntil
  }

  /**
   * Work for Redis that could not be done when it was due (a lock to release, a token to write back), done as soon
   * as Redis serves again, unless `until` (ms since the epoch: the lease's end, the token's expiry) has passed.
   */
  owe (key: string, until: number, settle: () => Promise<unknown>) {
    // Owed again: it moves to the end, after what was owed meanwhile (the order Redis must see them in).
    this.owed.delete(key)
    if (this.owed.size >= MAX_OWED) this.owed.delete(this.owed.keys().next().value!)
    this.owed.set(key, { until, settle })
  }

  /** A lock found without expiry or of another type, taken over: said once per kind, never per request. */
  repaired (kind: string) {
    if (kind === '' || this.repairsLogged.has(kind)) return
    this.repairsLogged.add(kind)
    this.options.log.warn({ kind }, kind === 'no-expiry'
      ? 'a mint lock in Redis had no expiry (written by hand, or PERSISTed) and would have blocked its user: taken over'
      : 'a mint lock key in Redis held another type of value and would have blocked its user: replaced')
  }

  /** Unavailability was reported once by SharedRedis; anything else (a reply error) is logged, never thrown. */
  trouble (error: unknown, operation: string) {
    if (!(error instanceof RedisUnavailable)) {
      this.options.log.warn({ operation, reason: redisErrorText(error) }, 'token store: Redis refused a command; working from memory')
    }
  }

  private async readLayoutMarker () {
    try {
      const marked = await this.options.redis.run((client) => client.eval(MARK_LAYOUT, 1, LAYOUT_MARKER, Date.now()) as Promise<string>)
      const since = Number(marked)
      if (Number.isFinite(since)) this.legacyWritesUntil = since + LEGACY_WRITES_MS
    } catch {}
  }

  private settleOwed () {
    const now = Date.now()
    for (const [key, { until, settle }] of this.owed) {
      this.owed.delete(key)
      if (until > now) void settle().catch(() => {})
    }
  }
}
