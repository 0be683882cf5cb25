import { tracingChannel } from 'node:diagnostics_channel'
import { GatewayError } from '../errors.js'
import type { OpenImClient } from '../openim/client.js'
import type { CallContext } from '../openim/transport.js'
import { ErrCode, OpenImError } from '../openim/errors.js'
import { userIdProblem, type RegisterUser } from '../openim/generations.js'

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
  onProvision?: (outcome: 'created' | 'existing' | 'failed', code?: string) => void
}

/**
 * The business flow behind POST /provision: make sure the user exists, mint a token, and answer only once
 * account_check has confirmed the account. Knows OpenIM's semantics (1102, races), not its wire format.
 */
export class ProvisioningService {
  // Concurrent provisions of one (userID, platformID) share one flow: on OpenIM v3.8.1+ a second mint
  // would kick the first token (1506), leaving one caller with a dead token. Entries live only while
  // the flow runs, so the map is bounded by the number of requests in flight.
  private readonly inFlight = new Map<string, Promise<ProvisionResult>>()
  private readonly now: () => number

  constructor (private readonly options: ProvisioningOptions) {
    this.now = options.now ?? Date.now
  }

  provision (input: ProvisionInput, context: CallContext): Promise<ProvisionResult> {
    const key = `${input.platformID}\u0000${input.userID}`
    const running = this.inFlight.get(key)
    if (running !== undefined) return running
    const flow = provisionChannel.tracePromise(() => this.run(input, context), { userID: input.userID, platformID: input.platformID })
      .finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, flow)
    return flow
  }

  async revoke (userID: string, platformIDs: number[], context: CallContext): Promise<void> {
    await this.assertValidUserID(userID, context)
    for (const platformID of platformIDs) await this.options.openim.forceLogout(userID, platformID, context)
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
      this.options.onProvision?.('failed', error instanceof GatewayError ? error.code : error instanceof OpenImError ? error.kind : 'internal')
      throw error
    }
  }

  /** Returns whether this call created the user. Costs 1 OpenIM call for an existing user, 3 for a new one. */
  private async ensureRegistered (input: ProvisionInput, context: CallContext): Promise<boolean> {
    await this.assertValidUserID(input.userID, context)
    const openim = this.options.openim
    if (await this.isRegistered(input.userID, context)) return false

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

  private async assertValidUserID (userID: string, context: CallContext): Promise<void> {
    const problem = userIdProblem(userID, await this.options.openim.connectedGeneration(context))
    if (problem !== undefined) throw new GatewayError(400, 'INVALID_USER_ID', problem)
  }
}
