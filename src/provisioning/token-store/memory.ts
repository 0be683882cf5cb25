import { LRUCache } from 'lru-cache'
import { pairKey, type RememberedToken, type TokenPair } from './store.js'

/**
 * Remembered tokens in this replica's memory: at most `maxEntries`, the least recently used pushed out first
 * (`onEvict` is told), each dropped when its token expires. The whole store without Redis (local.ts), and
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
    return this.entries.get(pairKey(pair))
  }

  rememberNow (pair: TokenPair, entry: Entry): void {
    // lru-cache drops an entry once its ttl has passed (it checks when read, it never sweeps).
    const ttl = entry.expiresAt - Date.now()
    if (ttl > 0) this.entries.set(pairKey(pair), entry, { ttl })
  }

  /** Forgets the pair's token; with `stale`, only while it is still that one (a newer one stays). */
  forgetNow (pair: TokenPair, stale?: RememberedToken): void {
    const key = pairKey(pair)
    if (stale === undefined || this.entries.peek(key)?.token === stale.token) this.entries.delete(key)
  }
}
