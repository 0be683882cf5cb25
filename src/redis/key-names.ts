import { createHmac, hkdfSync } from 'node:crypto'

// Every key the gateway writes for a user or a caller is named through a keyed HMAC (a key derived from the
// OpenIM secret), one digest per purpose, so a Redis reader learns no userID, caller name or address, and cannot
// tell which lock goes with which token. The part in braces is a Redis Cluster hash tag, the same for all of one
// user's keys (and for all of one caller's counters): they share a slot, so one command or script may touch them
// together. Digests are 128 bits: collisions are out of reach, and each key costs Redis less memory.
//
//   openim-gateway:{<user tag>}:token:<digest>       a remembered token (sealed: token-store/crypto.ts)
//   openim-gateway:{<user tag>}:lock:<digest>        a mint lock
//   openim-gateway:{<caller tag>}:rate:<digest>      a rate-limit counter (caller: service, user or IP)
export const KEY_PREFIX = 'openim-gateway:'
const SALT = Buffer.from('openim-gateway token store')
const NAMING_INFO = 'openim-gateway redis key naming v2'
// The previous release's names (one HMAC of the pair, shared by the token and the lock, no hash tag), still read
// during an upgrade: see LegacyPairKeys.
const LEGACY_NAMING_INFO = 'openim-gateway token-store key naming v1'
const DIGEST_BYTES = 16

/** The user and platform a token belongs to. */
export interface TokenPair {
  userID: string
  platformID: number
}

/** The pair as one string: platformIDs are digits, so the first ":" ends them whatever the userID holds. */
export const pairKey = ({ userID, platformID }: TokenPair) => `${platformID}:${userID}`

export interface PairKeys {
  token: string
  lock: string
}

export class KeyNames {
  private readonly namingKey: Buffer
  private readonly legacyNamingKey: Buffer

  constructor (secret: string) {
    const material = Buffer.from(secret, 'utf8')
    this.namingKey = Buffer.from(hkdfSync('sha256', material, SALT, NAMING_INFO, 32))
    this.legacyNamingKey = Buffer.from(hkdfSync('sha256', material, SALT, LEGACY_NAMING_INFO, 32))
  }

  /** A pair's token and mint lock, in its user's slot. */
  pair (pair: TokenPair): PairKeys {
    const tag = this.userTag(pair.userID)
    const key = pairKey(pair)
    return {
      token: `${KEY_PREFIX}{${tag}}:token:${this.digest(`token\u0000${key}`)}`,
      lock: `${KEY_PREFIX}{${tag}}:lock:${this.digest(`lock\u0000${key}`)}`
    }
  }

  /** The tokens of some of a user's platforms (a revoke deletes them in one command: they share a slot). */
  tokens (userID: string, platformIDs: number[]): string[] {
    return platformIDs.map((platformID) => this.pair({ userID, platformID }).token)
  }

  /** A rate-limit counter: `scope` is the route's namespace, `caller` what the limiter keys on. */
  rateLimit (scope: string, caller: string): string {
    return `${KEY_PREFIX}{${this.digest(`caller\u0000${caller}`)}}:rate:${this.digest(`rate\u0000${scope}\u0000${caller}`)}`
  }

  /** The previous release's names for a pair's token and lock (standalone and Sentinel only: it spoke no Cluster). */
  legacyPair (pair: TokenPair): PairKeys {
    const digest = createHmac('sha256', this.legacyNamingKey).update(pairKey(pair)).digest('base64url')
    return { token: `${KEY_PREFIX}token:${digest}`, lock: `${KEY_PREFIX}mint-lock:${digest}` }
  }

  private userTag (userID: string): string {
    return this.digest(`user\u0000${userID}`)
  }

  private digest (text: string): string {
    return createHmac('sha256', this.namingKey).update(text).digest().subarray(0, DIGEST_BYTES).toString('base64url')
  }
}

/** Keys for the checks that run the gateway's commands on throw-away keys; one hash tag, so scripts may touch several. */
export const checkKey = (name: string) => `${KEY_PREFIX}{check}:${name}`
