import type { FastifyBaseLogger } from 'fastify'
import { RedisUnavailable, type SharedRedis } from '../../redis/shared-redis.js'
import type { TokenSealer } from './crypto.js'
import type { MemoryTokenStore } from './memory.js'
import type { RememberedToken, TokenPair, TokenStore } from './store.js'

const KEY_PREFIX = 'openim-gateway:token:'
// Values differ by their random IVs, so "still the value I read" is a byte comparison Redis can make.
const FORGET_IF_UNCHANGED = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"

/**
 * Remembered tokens in Redis, shared by every replica: encrypted, under key names that say nothing about the
 * user (crypto.ts), each expiring with its token. While Redis is unavailable (SharedRedis's breaker is open)
 * this replica remembers and recalls in memory instead, so no request waits on Redis or fails because of it;
 * what it remembered meanwhile goes back to Redis when that pair is next recalled.
 */
export class RedisTokenStore implements TokenStore {
  // The raw value each recalled entry was read from, for forget's compare-and-delete.
  private readonly readFrom = new WeakMap<RememberedToken, string>()

  constructor (
    private readonly redis: SharedRedis,
    private readonly sealer: TokenSealer,
    private readonly fallback: MemoryTokenStore,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>
  ) {}

  async recall (pair: TokenPair): Promise<RememberedToken | undefined> {
    const local = this.fallback.recallNow(pair)
    let sealed: string | null
    try {
      sealed = await this.redis.run((client) => client.get(this.key(pair)))
    } catch (error) {
      this.trouble(error, 'recall')
      return local
    }
    const shared = sealed === null ? undefined : this.decode(pair, sealed)
    if (local === undefined) return shared
    if (shared !== undefined && shared.expiresAt >= local.expiresAt) {
      this.fallback.forgetNow(pair)
      return shared
    }
    // Minted here while Redis was unavailable, so newer than what Redis holds (OpenIM kicked that one).
    await this.remember(pair, local)
    return local
  }

  async remember (pair: TokenPair, entry: RememberedToken): Promise<void> {
    const ttl = entry.expiresAt - Date.now()
    if (ttl <= 0) return
    const sealed = this.sealer.seal(pair, JSON.stringify(entry))
    try {
      await this.redis.run((client) => client.set(this.key(pair), sealed, 'PX', ttl))
      this.readFrom.set(entry, sealed)
      this.fallback.forgetNow(pair)
    } catch (error) {
      this.trouble(error, 'remember')
      this.fallback.rememberNow(pair, entry)
    }
  }

  async forget (pair: TokenPair, stale?: RememberedToken): Promise<void> {
    this.fallback.forgetNow(pair, stale)
    const sealed = stale === undefined ? undefined : this.readFrom.get(stale)
    if (stale !== undefined && sealed === undefined) return
    try {
      await this.redis.run((client) => sealed === undefined
        ? client.del(this.key(pair))
        : client.eval(FORGET_IF_UNCHANGED, 1, this.key(pair), sealed))
    } catch (error) {
      this.trouble(error, 'forget')
    }
  }

  private key (pair: TokenPair): string {
    return this.sealer.name(KEY_PREFIX, pair)
  }

  /** A value that does not open (another secret, another pair's value, altered) or parse is a miss. */
  private decode (pair: TokenPair, sealed: string): RememberedToken | undefined {
    const plaintext = this.sealer.open(pair, sealed)
    if (plaintext === undefined) return undefined
    try {
      const { token, expiresAt, lifetimeSeconds } = JSON.parse(plaintext) as Partial<RememberedToken>
      if (typeof token !== 'string' || typeof expiresAt !== 'number' || typeof lifetimeSeconds !== 'number') return undefined
      const entry = { token, expiresAt, lifetimeSeconds }
      this.readFrom.set(entry, sealed)
      return entry
    } catch {
      return undefined
    }
  }

  /** Unavailability was reported once by SharedRedis; anything else (a reply error) is logged, never thrown. */
  private trouble (error: unknown, operation: string) {
    if (!(error instanceof RedisUnavailable)) this.log.warn({ operation, reason: (error as Error).message }, 'token store: Redis refused a command; working from memory')
  }
}
