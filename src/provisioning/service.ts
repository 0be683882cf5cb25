import { tracingChannel } from 'node:diagnostics_channel'
import { GatewayError } from '../errors.js'
import type { OpenImClient } from '../openim/client.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { ErrCode, OpenImError } from '../openim/errors.js'
import { basicUserIdProblem, userIdProblem, type RegisterUser } from '../openim/generations.js'
import { waitForCaller } from './caller-wait.js'
import { SharedFlows } from './shared-flows.js'

export interface ProvisionInput {
  userID: string
  platformID: number
  nickname?: string
  faceURL?: string
  ex?: string
}

export interface ProvisionResult {
  userID: string
  platformID: number
  token: string
  expireTimeSeconds: number
  expiresAt: string
  created: boolean
}

/** What the `openim-gateway:provision` tracing channel publishes around every provisioning flow (src/tracing/ listens). */
export interface ProvisionMessage { userID: string, platformID: number }
/** Costs nothing while nobody subscribes, i.e. unless tracing is on. */
export const provisionChannel = tracingChannel<unknown, ProvisionMessage>('openim-gateway:provision')

export interface ProvisioningOptions {
  openim: OpenImClient
  now?: () => number
  /** 'abandoned': every caller had gone, and the flow stopped before its next OpenIM call. */
  onProvision?: (outcome: 'created' | 'existing' | 'failed' | 'abandoned', code?: string) => void
  /** A caller joined the flow already running for its user and platform. */
  onShared?: () => void
}

/**
 * The business flow behind POST /provision: make sure the user exists, mint a token, and answer only once
 * account_check has confirmed the account. Knows OpenIM's semantics (1102, races), not its wire format.
 */
export class ProvisioningService {
  // Concurrent provisions of one (userID, platformID) share one flow: on OpenIM v3.8.1+ a second mint
  // would kick the first token (1506), leaving one caller with a dead token.
  private readonly flows: SharedFlows<ProvisionResult>
  private readonly now: () => number

  constructor (private readonly options: ProvisioningOptions) {
    this.now = options.now ?? Date.now
    this.flows = new SharedFlows(options.onShared)
  }

  /**
   * Answers by the caller's deadline (504 OPENIM_TIMEOUT after it); the flow stops between OpenIM calls
   * once every caller sharing it has gone, but a mint already sent completes (it has already kicked the
   * earlier token, so its result is what counts).
   */
  provision (input: ProvisionInput, context: CallContext): Promise<ProvisionResult> {
    const trace = { userID: input.userID, platformID: input.platformID }
    return this.flows.join(`${input.platformID}\u0000${input.userID}`, context,
      (flowContext) => provisionChannel.tracePromise(() => this.run(input, flowContext), trace))
  }

  /**
   * Logs the user out of every platform in parallel (nine force_logout calls fit one deadline). A revoke
   * is never stopped halfway: its calls carry neither the caller's signal nor its deadline, so they all
   * run even when the caller has gone or been answered 504.
   */
  async revoke (userID: string, platformIDs: number[], context: CallContext): Promise<void> {
    refuseUserId(basicUserIdProblem(userID))
    await waitForCaller(this.logOut(userID, platformIDs, { operationID: context.operationID }), context)
  }

  private async logOut (userID: string, platformIDs: number[], context: CallContext): Promise<void> {
    const outcomes = await Promise.allSettled(platformIDs.map((platformID) => this.options.openim.forceLogout(userID, platformID, context)))
    const failure = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }

  private async run (input: ProvisionInput, context: CallContext): Promise<ProvisionResult> {
    try {
      const created = await this.ensureRegistered(input, context)
      const minted = await this.options.openim.mintUserToken(input.userID, input.platformID, context)
      const result: ProvisionResult = {
        userID: input.userID,
        platformID: input.platformID,
        token: minted.token,
        expireTimeSeconds: minted.expireTimeSeconds,
        expiresAt: new Date(this.now() + minted.expireTimeSeconds * 1000).toISOString(),
        created
      }
      this.options.onProvision?.(created ? 'created' : 'existing')
      return result
    } catch (error) {
      if (error instanceof CallCancelled) this.options.onProvision?.('abandoned')
      else this.options.onProvision?.('failed', error instanceof GatewayError ? error.code : error instanceof OpenImError ? error.kind : 'internal')
      throw error
    }
  }

  /** Returns whether this call created the user. Costs 1 OpenIM call for an existing user, 3 for a new one. */
  private async ensureRegistered (input: ProvisionInput, context: CallContext): Promise<boolean> {
    refuseUserId(basicUserIdProblem(input.userID))
    const openim = this.options.openim
    if (await this.isRegistered(input.userID, context)) return false
    // Only a new user is held to the connected generation's format rule (OpenIM checks it only on register).
    refuseUserId(userIdProblem(input.userID, await openim.connectedGeneration(context)))

    const user: RegisterUser = { userID: input.userID, nickname: input.nickname ?? input.userID }
    if (input.faceURL !== undefined) user.faceURL = input.faceURL
    if (input.ex !== undefined) user.ex = input.ex
    try {
      await openim.registerUsers([user], context)
    } catch (error) {
      if (!(error instanceof OpenImError) || error.kind !== 'rejected') throw error
      // 1102: someone registered it first. 500 (1003 up to v3.4): most likely a concurrent registration
      // hit the unique index; the re-check below tells.
      const raced = error.errCode === ErrCode.RegisteredAlready || error.errCode === ErrCode.ServerInternal || error.errCode === ErrCode.DuplicateKey
      if (!raced || !(await this.isRegistered(input.userID, context))) throw error
      return false
    }
    if (!(await this.isRegistered(input.userID, context))) {
      throw new OpenImError('bad_response', '/user/account_check', 'OpenIM reports the user unregistered right after registering it')
    }
    return true
  }

  private async isRegistered (userID: string, context: CallContext): Promise<boolean> {
    const statuses = await this.options.openim.accountCheck([userID], context)
    return statuses.get(userID) === true
  }
}

function refuseUserId (problem: string | undefined) {
  if (problem !== undefined) throw new GatewayError(400, 'INVALID_USER_ID', problem)
}
