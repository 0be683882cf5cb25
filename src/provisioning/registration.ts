import { GatewayError } from '../errors.js'
import type { OpenImClient } from '../openim/client.js'
import { ErrCode, OpenImError } from '../openim/errors.js'
import { userIdProblem, type RegisterUser } from '../openim/generations.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { defaultNickname } from './profile-rules.js'

export interface NewUserProfile {
  userID: string
  nickname?: string
  faceURL?: string
  ex?: string
}

/**
 * Makes sure OpenIM has the user (whose ID passed basicUserIdProblem), and returns whether this call registered it. Costs 1 OpenIM call for an
 * existing user, 3 for a new one (check → register → check). Knows OpenIM's semantics (1102, races), not
 * its wire format.
 */
export async function ensureRegistered (openim: OpenImClient, profile: NewUserProfile, context: CallContext): Promise<boolean> {
  if (await isRegistered(openim, profile.userID, context)) return false
  // Only a new user is held to the connected generation's format rule (OpenIM checks it only on register).
  refuseUserId(userIdProblem(profile.userID, await openim.connectedGeneration(context)))

  const user: RegisterUser = { userID: profile.userID, nickname: profile.nickname ?? defaultNickname(profile.userID) }
  if (profile.faceURL !== undefined) user.faceURL = profile.faceURL
  if (profile.ex !== undefined) user.ex = profile.ex
  try {
    await openim.registerUsers([user], context)
  } catch (error) {
    if (!(error instanceof OpenImError) || error.kind !== 'rejected') throw error
    // 1102: someone registered it first. 500 (1003 up to v3.4): most likely a concurrent registration
    // hit the unique index; the re-check below tells.
    const raced = error.errCode === ErrCode.RegisteredAlready || error.errCode === ErrCode.ServerInternal || error.errCode === ErrCode.DuplicateKey
    if (!raced || !(await isRegistered(openim, profile.userID, context))) throw error
    return false
  }
  if (!(await isRegistered(openim, profile.userID, context).catch(registeredBefore))) {
    throw new OpenImError('bad_response', '/user/account_check', 'OpenIM reports the user unregistered right after registering it')
  }
  return true
}

async function isRegistered (openim: OpenImClient, userID: string, context: CallContext): Promise<boolean> {
  const statuses = await openim.accountCheck([userID], context)
  return statuses.get(userID) === true
}

/**
 * A flow that stopped because every caller had gone, after it had registered the user: no token was minted,
 * but the user exists now (what the audit line says).
 */
export class CancelledAfterRegistering extends CallCancelled {
  override name = 'CancelledAfterRegistering'
}

/** Rethrows a failure of a flow that has registered its user, marking a stop as one after registering. */
export function registeredBefore (error: unknown): never {
  throw error instanceof CallCancelled && !(error instanceof CancelledAfterRegistering) ? new CancelledAfterRegistering(error.message) : error
}

export function refuseUserId (problem: string | undefined) {
  if (problem !== undefined) throw new GatewayError(400, 'INVALID_USER_ID', problem)
}
