import { LRUCache } from 'lru-cache'
import { MintDeferred } from './errors.js'
import { pairKey, type TokenPair } from './token-store/store.js'

// At most one flow mints for a user and platform at a time: across every replica through Redis (the token
// store's scripts, token-store/scripts.ts), and always within this process through this file's LocalMintLock.
// While Redis cannot say who holds a pair's lock, this process's lock is all there is: it then also keeps a
// record of the pairs it minted for, so that it mints at most once per pair per lease until Redis is back, and of
// the pairs whose lock request went unanswered (Redis may hold that lock for this process): those it does not mint
// for at all until Redis can say, since a replica that took the lock in Redis mints once its lease has passed.

export class LocalMintLock {
  private readonly held = new Set<string>()
  private readonly unsharedMints: LRUCache<string, number>
  private readonly unknownLocks: LRUCache<string, true>

  /**
   * `leaseMs`: how long a mint made without the cross-replica lock counts; `maxRecords` bounds the memory of
   * that record (lru-cache sets aside about 40 bytes a record up front; pairs beyond it, least recently minted, are
   * forgotten early: only an outage that meets more new users than this within one lease reaches it).
   */
  constructor (private readonly leaseMs: number, maxRecords = 10_000) {
    this.unsharedMints = new LRUCache<string, number>({ max: maxRecords, ttl: leaseMs })
    this.unknownLocks = new LRUCache<string, true>({ max: maxRecords, ttl: leaseMs })
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

  /** Records a lock request of this process whose outcome is unknown: for a lease, Redis may hold the pair's lock for it. */
  recordUnknownLock (pair: TokenPair): void {
    this.unknownLocks.set(pairKey(pair), true)
  }

  /** Records that Redis answered for the pair's lock again (taken, released or renewed): its state is known. */
  forgetUnknownLock (pair: TokenPair): void {
    this.unknownLocks.delete(pairKey(pair))
  }

  /** Whether a lock request of this process for the pair went unanswered less than a lease ago. */
  mayHoldInRedis (pair: TokenPair): boolean {
    return this.unknownLocks.has(pairKey(pair))
  }

  /** Throws MintDeferred while the pair's last unshared mint is less than a lease old. */
  refuseSecondUnsharedMint (pair: TokenPair): void {
    const mintedAt = this.unsharedMints.get(pairKey(pair))
    if (mintedAt === undefined) return
    throw new MintDeferred(Math.max(1, Math.ceil((mintedAt + this.leaseMs - performance.now()) / 1000)))
  }
}
