import { GatewayError } from '../errors.js'
import type { OpenImClient } from '../openim/client.js'
import type { CallContext } from '../openim/transport.js'
import type { ProfileChanges, UserProfile } from '../openim/users.js'
import { waitForCaller, whenSettled, type OnSettled } from './caller-wait.js'
import { assertNotReserved } from './reserved.js'

export interface Profile { userID: string, nickname: string, faceURL: string, ex: string, createTime: string }

export interface ProfileOptions {
  openim: OpenImClient
  reservedUserIDs: ReadonlySet<string>
}

/**
 * GET and PATCH /users/{userID}: read and change a user's OpenIM profile. No userID format rule applies:
 * users registered under an older OpenIM's rules keep their IDs (CONTRACT.md §4).
 */
export class ProfileService {
  constructor (private readonly options: ProfileOptions) {}

  async get (userID: string, context: CallContext): Promise<Profile> {
    assertNotReserved(userID, this.options.reservedUserIDs)
    return waitForCaller(this.read(userID, context), context)
  }

  /**
   * Changes what `changes` names and answers the profile as OpenIM now holds it (2 OpenIM calls).
   * `onSettled` is told how the change itself ended, even when the caller left before the answer.
   */
  update (userID: string, changes: ProfileChanges, context: CallContext, onSettled?: OnSettled<void>): Promise<Profile> {
    const change = this.change(userID, changes, context)
    whenSettled(change, onSettled)
    return waitForCaller(change.then(() => this.read(userID, context)), context)
  }

  private async change (userID: string, changes: ProfileChanges, context: CallContext): Promise<void> {
    assertNotReserved(userID, this.options.reservedUserIDs)
    if (!(await this.options.openim.updateUserInfo(userID, changes, context))) throw notFound(userID)
  }

  private async read (userID: string, context: CallContext): Promise<Profile> {
    const user = await this.options.openim.userInfo(userID, context)
    if (user === undefined) throw notFound(userID)
    return toProfile(user)
  }
}

const notFound = (userID: string) => new GatewayError(404, 'USER_NOT_FOUND', `OpenIM has no user "${userID}"`)

function toProfile (user: UserProfile): Profile {
  return { userID: user.userID, nickname: user.nickname, faceURL: user.faceURL, ex: user.ex, createTime: new Date(user.createTime).toISOString() }
}
