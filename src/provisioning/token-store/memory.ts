import { LRUCache } from 'lru-cache'
import { pairKey, type RememberedToken, type TokenPair, type TokenStore } from './store.js'

/**
 * Remembered tokens in this replica's memory: at most `maxEntries`, the least recently used pushed out first
 * (`onEvict` is told), each dropped when its token expires. Used alone without Redis, and as the fallback
 * of the Redis store.
 */
export class MemoryTokenStore implements TokenStore {
  private readonly entries: LRUCache<string, RememberedToken>

  constructor (maxEntries: number, onEvict: () => void = () => {}) {
    this.entries = new LRUCache<string, RememberedToken>({
      max: maxEntries,
      dispose: (_entry, _key, reason) => { if (reason === 'evict') onEvict() }
    })
  }

  get size (): number { return this.entries.size }

  async recall (pair: TokenPair): Promise<RememberedToken | undefined> {
    return this.recallNow(pair)
  }

  async remember (pair: TokenPair, entry: RememberedToken): Promise<void> {
    this.rememberNow(pair, entry)
  }

  async forget (pair: TokenPair, stale?: RememberedToken): Promise<void> {
    this.forgetNow(pair, stale)
  }

  recallNow (pair: TokenPair): RememberedToken | undefined {
    return this.entries.get(pairKey(pair))
  }

  rememberNow (pair: TokenPair, entry: RememberedToken): void {
    // lru-cache drops an entry once its ttl has passed (it checks when read, it never sweeps).
    const ttl = entry.expiresAt - Date.now()
    if (ttl > 0) this.entries.set(pairKey(pair), entry, { ttl })
  }

  forgetNow (pair: TokenPair, stale?: RememberedToken): void {
    const key = pairKey(pair)
    if (stale === undefined || this.entries.peek(key)?.token === stale.token) this.entries.delete(key)
  }
}
