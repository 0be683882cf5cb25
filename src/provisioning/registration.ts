import type { ProvisionRequest } from '../http/schemas/index.js'
import type { OpenImClient } from '../openim/client.js'
import { ErrCode, OpenImError } from '../openim/errors.js'
import { userIdProblem, type RegisterUser } from '../openim/generations.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { InvalidUserId } from './errors.js'
import { defaultNickname } from './profile-rules.js'

/**
 * The profile a new user starts with, every field optional: what /provision's body, an end user's token claims
 * or an import row give. The request schema's fields, so the type follows the schema.
 */
export type NewUserProfile = Pick<ProvisionRequest, 'nickname' | 'faceURL' | 'ex'>

/** What OpenIM is asked to register: the nickname defaults to the userID (or a neutral stand-in for it). */
export function userToRegister (userID: string, profile: NewUserProfile): RegisterUser {
  const user: RegisterUser = { userID, nickname: profile.nickname ?? defaultNickname(userID) }
  if (profile.faceURL !== undefined) user.faceURL = profile.faceURL
  if (profile.ex !== undefined) user.ex = profile.ex
  return user
}

/**
 * Makes sure OpenIM has the user (whose ID passed basicUserIdProblem), and returns whether this call
 * registered it. Costs 1 OpenIM call for an existing user, 3 for a new one (check → register → check). Knows
 * OpenIM's semantics (1102, races), not its wire format.
 */
export async function ensureRegistered (openim: OpenImClient, user: { userID: string } & NewUserProfile,
  context: CallContext): Promise<boolean> {
  const { userID } = user
  if (await isRegistered(openim, userID, context)) return false
  // Only a new user is held to the connected generation's format rule (OpenIM checks it only on register).
  refuseUserId(userIdProblem(userID, await openim.connectedGeneration(context)))

  try {
    await openim.registerUsers([userToRegister(userID, user)], context)
  } catch (error) {
    if (!(error instanceof OpenImError) || error.kind !== 'rejected') throw error
    // 1102: someone registered it first. 500 (1003 up to v3.4): most likely a concurrent registration
    // hit the unique index; the re-check below tells.
    const raced = error.errCode === ErrCode.RegisteredAlready || error.errCode === ErrCode.ServerInternal ||
      error.errCode === ErrCode.DuplicateKey
    if (!raced || !(await isRegistered(openim, userID, context))) throw error
    return false
  }
  if (!(await isRegistered(openim, userID, context).catch(registeredBefore))) {
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
  const stopped = error instanceof CallCancelled && !(error instanceof CancelledAfterRegistering)
  throw stopped ? new CancelledAfterRegistering(error.message) : error
}

/** Throws InvalidUserId when a userID rule found a problem. */
export function refuseUserId (problem: string | undefined) {
  if (problem !== undefined) throw new InvalidUserId(problem)
}
