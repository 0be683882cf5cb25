// Where the gateway remembers the tokens it handed out, so the next provision of the same user and platform
// can hand the live one out again instead of minting (which kicks it on OpenIM v3.8.1+), and the lock that keeps
// two flows from minting for one pair at once. One interface, two homes: this replica's memory alone
// (local.ts), or Redis shared by every replica, with a bounded copy in memory for when Redis cannot answer
// (redis.ts). Whatever a store returns is only a candidate: OpenIM confirms it before anyone receives it.
import type { TokenPair } from '../../redis/key-names.js'

export { pairKey, type TokenPair } from '../../redis/key-names.js'

export interface RememberedToken {
  token: string
  /** The token's expiry, in ms since the epoch. */
  expiresAt: number
  /** The lifetime OpenIM gave it when it was minted, in seconds (the default reuse threshold is half of it). */
  lifetimeSeconds: number
}

/** The right to mint for one pair, until remembered, released (the flow's end) or lost. */
export interface MintLease {
  /** True while the lease surely holds, extending it when needed; false: it was lost, do not mint. */
  renew (): Promise<boolean>
  /** The token just minted: remembered for the pair's next provisions, and the lease released, in one go. */
  remember (entry: RememberedToken): Promise<void>
}

/** What a flow finds when it looks at its pair. */
export type Look =
  /** A remembered token this flow has not passed over yet: confirm it with OpenIM. */
  | { kind: 'remembered', entry: RememberedToken }
  /** Nothing worth handing out, and the pair's lock: this flow may mint. */
  | { kind: 'lease', lease: MintLease }
  /** Another flow mints (or may be minting): wait, and look again. */
  | { kind: 'busy' }

/** One provisioning flow's dealings with its pair's remembered token and mint lock. */
export interface PairFlow {
  /**
   * The remembered token (when `recall`, unless this flow passed it over), else the lock. Throws a 503
   * (MintDeferred) when minting now would break the promise of one token per pair (mint-lock.ts).
   */
  look (recall: boolean): Promise<Look>
  /** An entry `look` returned that will not be handed out; a stale one (OpenIM refused it) is forgotten. */
  pass (entry: RememberedToken, stale: boolean): Promise<void>
  /** An entry `look` returned that OpenIM confirmed and the caller receives. */
  handedOut (entry: RememberedToken): Promise<void>
  /** The flow is over: whatever lock it holds, or may hold, is released. */
  end (): Promise<void>
}

export interface SessionStore {
  flow (pair: TokenPair): PairFlow
  /** Forgets the tokens of these platforms of the user (a revoke). */
  forget (userID: string, platformIDs: number[]): Promise<void>
}
