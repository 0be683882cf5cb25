import { randomBytes } from 'node:crypto'
import { RedisUnavailable } from '../../redis/shared-redis.js'
import type { LocalToken, RedisSessionStore } from './redis.js'
import { FORGET_IF_UNCHANGED, LOOK, RELEASE, REMEMBER, RENEW } from './scripts.js'
import type { Look, MintLease, PairFlow, RememberedToken, TokenPair } from './store.js'

type LookReply = ['token', string] | ['mine', string] | ['held']

const remembered = (entry: RememberedToken): Look => ({ kind: 'remembered', entry })
const BUSY: Look = { kind: 'busy' }

/**
 * One flow's dealings with its pair in Redis. The rules that keep one live token per pair when Redis is in
 * trouble:
 * - A token this replica handed out or read is kept in memory and offered when Redis cannot answer, so a
 *   user holding a live token keeps it (OpenIM still confirms it). A token Redis does not have (minted or kept
 *   while it could not take it) is offered first, and written back once handed out.
 * - The lock is asked for under one holder for the whole flow, and asking again renews it: after a request
 *   whose outcome is unknown (a timeout, a lost connection) the flow neither mints (Redis may hold the lock
 *   for another flow) nor forgets it (it may hold it itself); it waits as a waiter would and asks again once
 *   Redis answers. Whatever it may hold is released when it ends, or, if Redis cannot be reached then, as
 *   soon as it can (the lease ends it anyway).
 * - The lease is renewed, in Redis, right before the mint: a lock lost meanwhile (its lease ran out; a failover or
 *   an eviction lost the key, and another flow took it) is found then, and a renew that fails means the lease is lost.
 * - When Redis cannot be asked at all, this process's lock is the only one, and a replica mints at most once
 *   per pair per lease (mint-lock.ts): a second mint would only log out the token another replica minted.
 */
export class RedisPairFlow implements PairFlow {
  private readonly holder = randomBytes(16).toString('base64url')
  private readonly passed = new Set<string>()
  private readonly sealedValues = new WeakMap<RememberedToken, string>()
  /** This flow's hold on the pair's lock in Redis: none, held, unknown, or maybe (released at the end). */
  private lock: 'none' | 'held' | 'unknown' | 'maybe' = 'none'
  /** A token minted under the lease that Redis did not (surely) take: written when the flow ends, or once Redis is back. */
  private unremembered?: RememberedToken
  private releaseLocal?: () => void
  private readonly lookKeys: string[]
  private readonly lockKeys: string[]
  private readonly tokenKeys: string[]
  private readonly legacyWrites: boolean

  constructor (private readonly store: RedisSessionStore, private readonly pair: TokenPair) {
    const { pair: own, legacy, legacyLocks } = store.keys(pair)
    this.legacyWrites = legacyLocks
    this.tokenKeys = legacy === undefined ? [own.token] : [own.token, legacy.token]
    this.lockKeys = legacyLocks ? [own.lock, legacy!.lock] : [own.lock]
    this.lookKeys = [own.token, own.lock, ...(legacy === undefined ? [] : [legacy.token]), ...(legacyLocks ? [legacy!.lock] : [])]
  }

  async look (recall: boolean): Promise<Look> {
    const { memory, redis } = this.store.options
    const local = recall ? memory.recallNow(this.pair) : undefined
    if (local?.unshared === true && !this.passed.has(local.token)) return remembered(local)
    if (!redis.available) return this.degraded(local, recall)
    let reply: LookReply
    try {
      reply = await this.runLook(recall)
      if (reply[0] === 'token') {
        const entry = this.decode(reply[1])
        if (entry !== undefined && !this.passed.has(entry.token)) return remembered(entry)
        reply = await this.runLook(false)
      }
    } catch (error) {
      return this.failed(error, local, recall)
    }
    // Redis has no token worth handing out: a copy here is of one forgotten since (a revoke, a stale token).
    if (local !== undefined) memory.forgetNow(this.pair, local)
    if (reply[0] === 'held') {
      this.lock = 'none'
      return BUSY
    }
    this.store.repaired(reply[1] ?? '')
    this.lock = 'held'
    this.store.options.local.forgetUnknownLock(this.pair)
    return { kind: 'lease', lease: this.redisLease() }
  }

  async pass (entry: RememberedToken, stale: boolean): Promise<void> {
    this.passed.add(entry.token)
    if (!stale) return
    this.store.options.memory.forgetNow(this.pair, entry)
    const sealed = this.sealedValues.get(entry)
    // A copy from memory (Redis could not answer): Redis is asked about its own copy when it answers again.
    if (sealed === undefined) return
    try {
      await this.store.options.redis.run((client) => client.eval(FORGET_IF_UNCHANGED, this.tokenKeys.length, ...this.tokenKeys, sealed))
    } catch (error) {
      this.store.trouble(error, 'forget')
    }
  }

  async handedOut (entry: RememberedToken): Promise<void> {
    if ((entry as LocalToken).unshared === true) await this.writeBack(entry)
    else this.store.options.memory.rememberNow(this.pair, entry)
  }

  async end (): Promise<void> {
    this.releaseLocal?.()
    this.releaseLocal = undefined
    const { redis, leaseMs } = this.store.options
    const unremembered = this.unremembered
    if (unremembered !== undefined) {
      // Written (over an older token only), and the lock released in the same step: the flows waiting for the lock
      // find the token rather than mint another.
      if (redis.available && await this.writeBack(unremembered)) return
      this.store.owe(`token\u0000${this.holder}`, unremembered.expiresAt, () => this.writeBack(unremembered))
      return
    }
    if (this.lock === 'none') return
    const release = async () => await redis.run((client) => client.eval(RELEASE, this.lockKeys.length, ...this.lockKeys, this.holder))
    if (redis.available) {
      try {
        await release()
        this.lock = 'none'
        return
      } catch {}
    }
    this.store.owe(`lock\u0000${this.holder}`, Date.now() + leaseMs, release)
  }

  private async runLook (recall: boolean): Promise<LookReply> {
    const { redis, leaseMs } = this.store.options
    const keys = this.lookKeys
    return await redis.run((client) => client.eval(LOOK, keys.length, ...keys, this.holder, leaseMs, recall ? '1' : '0')) as LookReply
  }

  private failed (error: unknown, local: LocalToken | undefined, recall: boolean): Promise<Look> {
    if (error instanceof RedisUnavailable && error.outcomeUnknown) {
      this.store.options.events?.ambiguousAcquire?.()
      this.lockUnknown()
    } else if (!(error instanceof RedisUnavailable)) {
      // A reply (OOM): the script stopped at a write it was refused, and took at most a lock of this holder.
      this.store.trouble(error, 'look')
      if (this.lock === 'none') this.lock = 'maybe'
    }
    return this.degraded(local, recall)
  }

  /** Redis cannot answer: the copy in memory, else this process's lock, at most one mint per pair per lease. */
  private async degraded (local: LocalToken | undefined, recall: boolean): Promise<Look> {
    if (local !== undefined && !this.passed.has(local.token)) return remembered(local)
    // Not only this flow's own request: a flow of this process that has ended may hold the pair's lock in Redis
    // unknowingly, and a replica waiting on that lock mints once it is released or run out; minting here as well
    // would make two tokens.
    if (this.lock === 'unknown' || this.store.options.local.mayHoldInRedis(this.pair)) return BUSY
    const { local: lock } = this.store.options
    this.releaseLocal ??= lock.hold(this.pair)
    if (this.releaseLocal === undefined) return BUSY
    if (recall) {
      try {
        lock.refuseSecondUnsharedMint(this.pair)
      } catch (error) {
        this.releaseLocal()
        this.releaseLocal = undefined
        throw error
      }
    }
    return { kind: 'lease', lease: this.degradedLease() }
  }

  private redisLease (): MintLease {
    const { redis, leaseMs, sealer, memory, local } = this.store.options
    return {
      renew: async () => {
        if (this.lock !== 'held') return false
        try {
          const keys = this.lockKeys
          const renewed = await redis.run((client) => client.eval(RENEW, keys.length, ...keys, this.holder, leaseMs)) === 1
          if (!renewed) this.lock = 'none'
          return renewed
        } catch (error) {
          if (error instanceof RedisUnavailable && error.outcomeUnknown) this.lockUnknown()
          else this.store.trouble(error, 'renew')
          return false
        }
      },
      remember: async (entry) => {
        const sealed = sealer.seal(this.pair, JSON.stringify(entry))
        const ttl = Math.max(1, entry.expiresAt - Date.now())
        try {
          await this.runRemember(sealed, ttl, false)
          this.lock = 'none'
          this.store.options.local.forgetUnknownLock(this.pair)
          memory.rememberNow(this.pair, entry)
        } catch (error) {
          if (error instanceof RedisUnavailable && error.outcomeUnknown) this.lockUnknown()
          else this.store.trouble(error, 'remember')
          // Minted under the lock, but no other replica may find it: this one mints no second token meanwhile, and
          // writes it when the flow ends, or once Redis is back.
          memory.rememberNow(this.pair, { ...entry, unshared: true })
          local.recordUnsharedMint(this.pair)
          this.unremembered = entry
        }
      }
    }
  }

  /** A lock request went unanswered: Redis may hold the pair's lock for this flow, as later flows here must know. */
  private lockUnknown () {
    this.lock = 'unknown'
    this.store.options.local.recordUnknownLock(this.pair)
  }

  private degradedLease (): MintLease {
    const { memory, local, events, redis } = this.store.options
    return {
      renew: async () => this.releaseLocal !== undefined,
      remember: async (entry) => {
        local.recordUnsharedMint(this.pair)
        events?.unsharedMint?.()
        memory.rememberNow(this.pair, { ...entry, unshared: true })
        // Redis may be back already: then every replica finds the token at once; else as soon as it is.
        if (!(redis.writable && await this.writeBack(entry))) {
          this.store.owe(`token\u0000${this.holder}`, entry.expiresAt, () => this.writeBack(entry))
        }
        this.releaseLocal?.()
        this.releaseLocal = undefined
      }
    }
  }

  /**
   * A token Redis does not have, written over an older one only (a newer one, minted elsewhere since, wins), and
   * whatever lock of this holder released; true once done.
   */
  private async writeBack (entry: RememberedToken): Promise<boolean> {
    const { sealer, memory } = this.store.options
    const { token, expiresAt, lifetimeSeconds } = entry
    const ttl = expiresAt - Date.now()
    if (ttl <= 0) return true
    const sealed = sealer.seal(this.pair, JSON.stringify({ token, expiresAt, lifetimeSeconds }))
    try {
      await this.runRemember(sealed, ttl, true)
      this.lock = 'none'
      this.store.options.local.forgetUnknownLock(this.pair)
      this.unremembered = undefined
      // Now a copy of what Redis has (or of an older token than Redis has, which Redis's answer replaces).
      if (memory.recallNow(this.pair)?.token === token) memory.rememberNow(this.pair, { token, expiresAt, lifetimeSeconds })
      return true
    } catch (error) {
      this.store.trouble(error, 'write back')
      return false
    }
  }

  /** The token remembered, and the locks of this holder released; `onlyOverOlder`: only over a token that expires sooner. */
  private async runRemember (sealed: string, ttl: number, onlyOverOlder: boolean) {
    const keys = this.lookKeys
    const flags = [this.legacyWrites ? '1' : '0', onlyOverOlder ? '1' : '0']
    await this.store.options.redis.run((client) => client.eval(REMEMBER, keys.length, ...keys, sealed, ttl, this.holder, ...flags))
  }

  /** A value that does not open (another secret, another pair's value, altered) or parse is a miss. */
  private decode (sealed: string): RememberedToken | undefined {
    const plaintext = this.store.options.sealer.open(this.pair, sealed)
    if (plaintext === undefined) return undefined
    try {
      const { token, expiresAt, lifetimeSeconds } = JSON.parse(plaintext) as Partial<RememberedToken>
      if (typeof token !== 'string' || typeof expiresAt !== 'number' || typeof lifetimeSeconds !== 'number') return undefined
      const entry = { token, expiresAt, lifetimeSeconds }
      this.sealedValues.set(entry, sealed)
      return entry
    } catch {
      return undefined
    }
  }
}
