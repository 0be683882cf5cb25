import { setTimeout as sleep } from 'node:timers/promises'
import type { OpenImClient } from '../openim/client.js'
import { OpenImError, isTokenErrCode } from '../openim/errors.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { ensureRegistered, registeredBefore, type NewUserProfile } from './registration.js'
import type { PairFlow, RememberedToken, SessionStore, TokenPair } from './token-store/store.js'

export interface ProvisionResult {
  userID: string
  platformID: number
  token: string
  /** Seconds left until expiresAt: the lifetime for a token minted now, less for a reused one. */
  expireTimeSeconds: number
  /** The token's real expiry (ISO 8601). */
  expiresAt: string
  created: boolean
  /** A remembered token OpenIM confirmed live, handed out again: nothing was minted, nobody was kicked. */
  reused: boolean
}

export interface TokenIssuerOptions {
  openim: OpenImClient
  /** The remembered tokens and the mint locks (token-store/: this replica's memory, or Redis). */
  store: SessionStore
  /** TOKEN_REUSE: 'auto' is on for the current API generation (OpenIM v3.8.1+) only. */
  reuse: 'auto' | 'on' | 'off'
  /** TOKEN_REUSE_MIN_REMAINING_SECONDS; undefined: the smaller of 7 days and half the token's lifetime. */
  minRemainingSeconds?: number
  /** How often a flow waiting for another one's mint looks for its token (and for the lock to come free). */
  pollIntervalMs?: number
  events?: {
    /** hit: answered with a remembered token; miss: minted; stale: OpenIM refused a remembered token. */
    lookup?: (result: 'hit' | 'miss' | 'stale') => void
    /** A flow found the pair's mint lock held, and waited. */
    lockWait?: () => void
    /** A flow that waited took the lock over and minted: the holder ended without remembering a token. */
    takeover?: () => void
  }
}

const DEFAULT_MAX_MIN_REMAINING_SECONDS = 7 * 86_400

/**
 * Where a provision's token comes from. On the current generation (OpenIM v3.8.1+) minting kicks the pair's
 * earlier token, so a remembered token that OpenIM's parse_token confirms live is handed out again (one
 * OpenIM call) and a mint happens only when there is none: under the pair's mint lock, so the cluster never
 * mints twice for one pair at once. Flows that find the lock held (or cannot know who holds it) wait for the
 * holder's token, and take over if the holder ends without one. With reuse off (or on a legacy OpenIM under 'auto') every provision
 * mints, as before.
 */
export class TokenIssuer {
  private readonly pollIntervalMs: number

  constructor (private readonly options: TokenIssuerOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 25
  }

  /** `fresh`: the caller asked for a new token (reuse: false), so nothing remembered is handed out. */
  async issue (input: NewUserProfile & TokenPair, context: CallContext, fresh: boolean): Promise<ProvisionResult> {
    if (!(await this.reuseEnabled(context))) return this.mint(input, context)
    const pair = { userID: input.userID, platformID: input.platformID }
    const { events } = this.options
    const flow = this.options.store.flow(pair)
    let waited = false
    try {
      for (;;) {
        const look = await flow.look(!fresh)
        if (look.kind === 'remembered') {
          const reused = await this.confirmRemembered(pair, look.entry, flow, context)
          if (reused !== undefined) return reused
          continue
        }
        if (look.kind === 'lease') {
          // The flow that held the lock before may have ended without a token (failed, gave up, died).
          if (waited && !fresh) events?.takeover?.()
          const created = await ensureRegistered(this.options.openim, input, context)
          // Held since before the checks; if it may have run out meanwhile, another flow may be minting now.
          if (!(await look.lease.renew())) continue
          const result = await this.mint(input, context, created)
          if (!fresh) events?.lookup?.('miss')
          // Before the lease goes (in one step), so that flows waiting for it find the token rather than the lock free.
          const { token, expiresAt, expireTimeSeconds } = result
          await look.lease.remember({ token, expiresAt: Date.parse(expiresAt), lifetimeSeconds: expireTimeSeconds })
          return result
        }
        if (!waited) events?.lockWait?.()
        waited = true
        await pause(this.pollIntervalMs, context.signal)
      }
    } finally {
      await flow.end()
    }
  }

  private async reuseEnabled (context: CallContext): Promise<boolean> {
    const { reuse, openim } = this.options
    if (reuse !== 'auto') return reuse === 'on'
    // Up to v3.8.0 a mint kicks nobody, and on v3.7 force_logout leaves tokens valid: reuse would hand
    // back revoked tokens there.
    return (await openim.connectedGeneration(context)) === 'current'
  }

  /** Registers the user if needed (unless `created` says it was done) and mints: a token for this flow alone. */
  private async mint (input: NewUserProfile & TokenPair, context: CallContext, created?: boolean): Promise<ProvisionResult> {
    const registered = created ?? await ensureRegistered(this.options.openim, input, context)
    const mint = this.options.openim.mintUserToken(input.userID, input.platformID, context)
    const minted = await (registered ? mint.catch(registeredBefore) : mint)
    return {
      userID: input.userID,
      platformID: input.platformID,
      token: minted.token,
      expireTimeSeconds: minted.expireTimeSeconds,
      expiresAt: new Date(Date.now() + minted.expireTimeSeconds * 1000).toISOString(),
      created: registered,
      reused: false
    }
  }

  /**
   * The remembered token, if it has enough time left and OpenIM confirms it is live for this very user and
   * platform. A live token proves the account exists, so no account_check is needed. One OpenIM refuses
   * (1501–1507: expired, kicked by a mint elsewhere, logged out, forgotten) is forgotten.
   */
  private async confirmRemembered (pair: TokenPair, entry: RememberedToken, flow: PairFlow,
    context: CallContext): Promise<ProvisionResult | undefined> {
    const { openim, events } = this.options
    if (!this.worthReusing(entry)) {
      await flow.pass(entry, false)
      return undefined
    }
    try {
      const parsed = await openim.parseToken(entry.token, context)
      if (parsed.userID === pair.userID && parsed.platformID === pair.platformID) {
        events?.lookup?.('hit')
        await flow.handedOut(entry)
        return {
          ...pair,
          token: entry.token,
          expireTimeSeconds: Math.floor((parsed.expiresAt - Date.now()) / 1000),
          expiresAt: new Date(parsed.expiresAt).toISOString(),
          created: false,
          reused: true
        }
      }
    } catch (error) {
      if (!(error instanceof OpenImError && error.kind === 'rejected' && isTokenErrCode(error.errCode))) throw error
    }
    events?.lookup?.('stale')
    await flow.pass(entry, true)
    return undefined
  }

  private worthReusing (entry: RememberedToken): boolean {
    const minRemaining = this.options.minRemainingSeconds ?? Math.min(DEFAULT_MAX_MIN_REMAINING_SECONDS, entry.lifetimeSeconds / 2)
    return entry.expiresAt - Date.now() >= minRemaining * 1000
  }
}

/** Waits between two looks at the store and the lock; stops the flow once nobody waits for it any more. */
async function pause (ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal })
  } catch {
    throw new CallCancelled('nobody waits for this flow any more')
  }
}
