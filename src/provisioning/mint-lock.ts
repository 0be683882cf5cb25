import { LRUCache } from 'lru-cache'
import { MintDeferred } from './errors.js'
import { pairKey, type TokenPair } from './token-store/store.js'

// At most one flow mints for a user and platform at a time: across every replica through Redis (the token
// store's scripts, token-store/scripts.ts), and always within this process through this file's LocalMintLock.
// While Redis cannot say who holds a pair's lock, this process's lock is all there is: it then also keeps a
// record of the pairs it minted for, so that it mints at most once per pair per lease until Redis is back.

export class LocalMintLock {
  private readonly held = new Set<string>()
  private readonly unsharedMints: LRUCache<string, number>

  /**
   * `leaseMs`: how long a mint made without the cross-replica lock counts; `maxRecords` bounds the memory of
   * that record (lru-cache sets aside about 40 bytes a record up front; pairs beyond it, least recently minted, are
   * forgotten early: only an outage that meets more new users than this within one lease reaches it).
   */
  constructor (private readonly leaseMs: number, maxRecords = 10_000) {
    this.unsharedMints = new LRUCache<string, number>({ max: maxRecords, ttl: leaseMs })
  }

  /** Holds the pair for one flow of this process; undefined while another one holds it. Returns the release. */
  hold (pair: TokenPair): (() => void) | undefined {
    const key = pairKey(pair)
    if (this.held.has(key)) return undefined
    this.held.add(key)
    let released = false
    return () => {
      if (!released) this.held.delete(key)
      released = true
    }
  }

  /** Records a mint made without the cross-replica lock (Redis could not be asked, or could not keep its token). */
  recordUnsharedMint (pair: TokenPair): void {
    this.unsharedMints.set(pairKey(pair), performance.now())
  }

  /** Throws MintDeferred while the pair's last unshared mint is less than a lease old. */
  refuseSecondUnsharedMint (pair: TokenPair): void {
    const mintedAt = this.unsharedMints.get(pairKey(pair))
    if (mintedAt === undefined) return
    throw new MintDeferred(Math.max(1, Math.ceil((mintedAt + this.leaseMs - performance.now()) / 1000)))
  }
}
