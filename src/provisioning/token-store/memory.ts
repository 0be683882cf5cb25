import { LRUCache } from 'lru-cache'
import { pairKey, type RememberedToken, type TokenPair } from './store.js'

/**
 * Remembered tokens in this replica's memory: at most `maxEntries`, the least recently used pushed out first
 * (`onEvict` is told), each dropped once its token has expired (when next read). The whole store without Redis (local.ts), and
 * the copy a Redis store keeps of what it handed out or read (redis.ts).
 */
export class MemoryTokenStore<Entry extends RememberedToken = RememberedToken> {
  private readonly entries: LRUCache<string, Entry>

  constructor (maxEntries: number, onEvict: () => void = () => {}) {
    this.entries = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (_entry, _key, reason) => { if (reason === 'evict') onEvict() }
    })
  }

  get size (): number { return this.entries.size }

  recallNow (pair: TokenPair): Entry | undefined {
    const key = pairKey(pair)
    const entry = this.entries.get(key)
    // Expiry is checked here, from the entry's own expiresAt, rather than by lru-cache's ttl, whose two timestamps
    // per entry would cost 16 bytes each of the up to TOKEN_CACHE_MAX_ENTRIES entries.
    if (entry === undefined || entry.expiresAt > Date.now()) return entry
    this.entries.delete(key)
    return undefined
  }

  rememberNow (pair: TokenPair, entry: Entry): void {
    if (entry.expiresAt > Date.now()) this.entries.set(pairKey(pair), entry)
  }

  /** Forgets the pair's token; with `stale`, only while it is still that one (a newer one stays). */
  forgetNow (pair: TokenPair, stale?: RememberedToken): void {
    const key = pairKey(pair)
    if (stale === undefined || this.entries.peek(key)?.token === stale.token) this.entries.delete(key)
  }
}
