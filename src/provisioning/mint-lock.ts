import { randomUUID } from 'node:crypto'
import type { RedisCheck, SharedRedis } from '../redis/shared-redis.js'
import type { TokenSealer } from './token-store/crypto.js'
import { pairKey, type TokenPair } from './token-store/store.js'

/** The right to mint for one user and platform, until released or until its time runs out. */
export interface MintLease {
  /** Extends the lease to its full time; false when it was lost (it ran out, and another flow may hold it). */
  renew (): Promise<boolean>
  release (): Promise<void>
}

/** At most one flow mints for a user and platform at a time: in this process, or across every replica. */
export interface MintLock {
  /** The lease, or undefined while another flow holds it. */
  tryAcquire (pair: TokenPair): Promise<MintLease | undefined>
}

/** Flows of this process only (without Redis, and always underneath the Redis lock). */
export class LocalMintLock implements MintLock {
  private readonly held = new Set<string>()

  async tryAcquire (pair: TokenPair): Promise<MintLease | undefined> {
    const key = pairKey(pair)
    if (this.held.has(key)) return undefined
    this.held.add(key)
    let released = false
    return {
      renew: async () => !released,
      release: async () => {
        if (!released) this.held.delete(key)
        released = true
      }
    }
  }
}

const KEY_PREFIX = 'openim-gateway:mint-lock:'
const RENEW_IF_HOLDER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
const RELEASE_IF_HOLDER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"

/** What the lock runs, on a throw-away key: SharedRedis and npm run doctor check a Redis can serve it. */
export const mintLockRedisCheck: RedisCheck = {
  what: 'the mint lock (SET NX PX and its holder scripts)',
  async run (client) {
    const key = `${KEY_PREFIX}check`
    await client.set(key, 'check', 'PX', 1000, 'NX')
    await client.eval(RENEW_IF_HOLDER, 1, key, 'check', 1000)
    await client.eval(RELEASE_IF_HOLDER, 1, key, 'check')
  }
}

/**
 * Across replicas: `SET key holder NX PX leaseMs`, renewed and released only by its holder (compare-and-set
 * scripts), under a key name that says nothing about the user. `leaseMs` covers a request's deadline plus
 * one OpenIM call that was sent before it, so a holder that dies (killed, partitioned) blocks the pair no
 * longer than that. While Redis is unavailable the lock is this process's only: replicas may then mint at
 * once, which is what they did before there was a lock (availability over exactness).
 */
export class RedisMintLock implements MintLock {
  constructor (
    private readonly redis: SharedRedis,
    private readonly sealer: TokenSealer,
    private readonly leaseMs: number,
    private readonly local = new LocalMintLock()
  ) {}

  async tryAcquire (pair: TokenPair): Promise<MintLease | undefined> {
    const inProcess = await this.local.tryAcquire(pair)
    if (inProcess === undefined) return undefined
    const key = this.sealer.name(KEY_PREFIX, pair)
    const holder = randomUUID()
    let acquired: boolean
    try {
      acquired = (await this.redis.run((client) => client.set(key, holder, 'PX', this.leaseMs, 'NX'))) === 'OK'
    } catch {
      return inProcess
    }
    if (!acquired) {
      await inProcess.release()
      return undefined
    }
    return {
      renew: async () => {
        try {
          return (await this.redis.run((client) => client.eval(RENEW_IF_HOLDER, 1, key, holder, this.leaseMs))) === 1
        } catch {
          return true
        }
      },
      release: async () => {
        await this.redis.run((client) => client.eval(RELEASE_IF_HOLDER, 1, key, holder)).catch(() => {})
        await inProcess.release()
      }
    }
  }
}
