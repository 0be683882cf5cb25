import { tracingChannel } from 'node:diagnostics_channel'
import type { ProvisionRequest } from '../http/schemas/index.js'
import type { OpenImClient } from '../openim/client.js'
import { basicUserIdProblem } from '../openim/generations.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { waitForCaller, whenSettled, type OnSettled } from './caller-wait.js'
import { refuseUserId } from './registration.js'
import { SharedFlows } from './shared-flows.js'
import type { ProvisionResult, TokenIssuer } from './token-issuer.js'
import { pairKey, type SessionStore } from './token-store/store.js'

export type { ProvisionResult } from './token-issuer.js'

/**
 * What /provision asks for, with the userID the per-user guards settled on (a service's, or the end user's own)
 * and, for an end user, the profile from their token's claims. reuse false: mint a new token even when a live
 * one is remembered (logging out the platform's other sessions).
 */
export type ProvisionInput = Omit<ProvisionRequest, 'userID'> & { userID: string }

export type ProvisionOutcome = 'created' | 'existing' | 'reused' | 'failed' | 'abandoned'

/** What the `openim-gateway:provision` tracing channel publishes around every provisioning flow (src/tracing/). */
export interface ProvisionMessage { userID: string, platformID: number }
/** Costs nothing while nobody subscribes, i.e. unless tracing is on. */
export const provisionChannel = tracingChannel<unknown, ProvisionMessage>('openim-gateway:provision')

export interface ProvisioningOptions {
  openim: OpenImClient
  issuer: TokenIssuer
  /** Where issued tokens are remembered; /revoke forgets the platforms it logs out. */
  store: SessionStore
  /** 'abandoned': every caller had gone, and the flow stopped before its next OpenIM call. `error`: why it failed. */
  onProvision?: (outcome: ProvisionOutcome, error?: unknown) => void
  /** A caller joined the flow already running for its user and platform. */
  onShared?: () => void
}

/**
 * The business flow behind POST /provision and POST /revoke: a token for a user and platform (from the
 * TokenIssuer: a live remembered one, or a new one once the user surely exists), and logging users out.
 */
export class ProvisioningService {
  // Concurrent provisions of one (userID, platformID) share one flow: on OpenIM v3.8.1+ a second mint
  // would kick the first token (1506), leaving one caller with a dead token. Requests for a fresh token
  // share only among themselves: they never receive a remembered one.
  private readonly flows: SharedFlows<ProvisionResult>

  constructor (private readonly options: ProvisioningOptions) {
    this.flows = new SharedFlows(options.onShared)
  }

  /**
   * Answers by the caller's deadline (504 OPENIM_TIMEOUT after it); the flow stops between OpenIM calls
   * once every caller sharing it has gone, but a mint already sent completes (it has already kicked the
   * earlier token, so its result is what counts, and it is remembered). `onSettled` is told how the flow
   * ended, even when this caller no longer waited for it.
   */
  provision (input: ProvisionInput, context: CallContext, onSettled?: OnSettled<ProvisionResult>): Promise<ProvisionResult> {
    const fresh = input.reuse === false
    const key = `${fresh ? 'fresh' : 'reuse'}\u0000${pairKey(input)}`
    const trace = { userID: input.userID, platformID: input.platformID }
    const start = (flowContext: CallContext) => provisionChannel.tracePromise(() => this.run(input, flowContext, fresh), trace)
    return this.flows.join(key, context, start, onSettled)
  }

  /**
   * Logs the user out of every platform in parallel (nine force_logout calls fit one deadline), and forgets
   * the tokens remembered for them. A revoke is never stopped halfway: its calls carry neither the caller's
   * signal nor its deadline, so they all run even when the caller has gone or been answered 504; `onSettled`
   * is told when they have.
   */
  revoke (userID: string, platformIDs: number[], context: CallContext, onSettled?: OnSettled<void>): Promise<void> {
    const work = this.logOut(userID, platformIDs, { operationID: context.operationID })
    whenSettled(work, onSettled)
    return waitForCaller(work, context)
  }

  private async logOut (userID: string, platformIDs: number[], context: CallContext): Promise<void> {
    refuseUserId(basicUserIdProblem(userID))
    const { openim, store } = this.options
    const outcomes = await Promise.allSettled(platformIDs.map((platformID) => openim.forceLogout(userID, platformID, context)))
    // Even after a failure: a token the caller wanted dead must not be handed out again.
    await store.forget(userID, platformIDs)
    const failure = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }

  private async run (input: ProvisionInput, context: CallContext, fresh: boolean): Promise<ProvisionResult> {
    try {
      refuseUserId(basicUserIdProblem(input.userID))
      const result = await this.options.issuer.issue(input, context, fresh)
      this.options.onProvision?.(result.reused ? 'reused' : result.created ? 'created' : 'existing')
      return result
    } catch (error) {
      if (error instanceof CallCancelled) this.options.onProvision?.('abandoned')
      else this.options.onProvision?.('failed', error)
      throw error
    }
  }
}
