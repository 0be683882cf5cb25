// Where the gateway remembers the tokens it handed out, so the next provision of the same user and platform
// can hand the live one out again instead of minting (which kicks it on OpenIM v3.8.1+). One interface, two
// homes: this replica's memory (memory.ts), or Redis shared by every replica with memory as its fallback
// (redis.ts). Whatever a store returns is only a candidate: OpenIM confirms it before anyone receives it.

/** The user and platform a token belongs to. */
export interface TokenPair {
  userID: string
  platformID: number
}

export interface RememberedToken {
  token: string
  /** The token's expiry, in ms since the epoch. */
  expiresAt: number
  /** The lifetime OpenIM gave it when it was minted, in seconds (the default reuse threshold is half of it). */
  lifetimeSeconds: number
}

export interface TokenStore {
  recall (pair: TokenPair): Promise<RememberedToken | undefined>
  /** Kept until the token expires (or, in memory, until newer entries push it out). */
  remember (pair: TokenPair, entry: RememberedToken): Promise<void>
  /**
   * Forgets the pair's token. With `stale` (an entry recall returned), only while the store still holds that
   * one: a newer token another flow stored meanwhile stays.
   */
  forget (pair: TokenPair, stale?: RememberedToken): Promise<void>
}

/** The pair as one string: platformIDs are digits, so the first ":" ends them whatever the userID holds. */
export const pairKey = ({ userID, platformID }: TokenPair) => `${platformID}:${userID}`
