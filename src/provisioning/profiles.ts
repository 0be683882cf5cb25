import type { UserProfile } from '../http/schemas/index.js'
import type { OpenImClient } from '../openim/client.js'
import type { CallContext } from '../openim/transport.js'
import type { ProfileChanges, UserInfo } from '../openim/users.js'
import { waitForCaller, whenSettled, type OnSettled } from './caller-wait.js'
import { UserNotFound } from './errors.js'

/**
 * GET and PATCH /users/{userID}: read and change a user's OpenIM profile. No userID format rule applies:
 * users registered under an older OpenIM's rules keep their IDs (CONTRACT.md §4). Which users may be read or
 * changed at all is the per-user guards' business (src/http/user-guard.ts), settled before these are called.
 */
export class ProfileService {
  constructor (private readonly openim: OpenImClient) {}

  async get (userID: string, context: CallContext): Promise<UserProfile> {
    return waitForCaller(this.read(userID, context), context)
  }

  /**
   * Changes what `changes` names and answers the profile as OpenIM now holds it (2 OpenIM calls).
   * `onSettled` is told how the change itself ended, even when the caller left before the answer.
   */
  update (userID: string, changes: ProfileChanges, context: CallContext, onSettled?: OnSettled<void>): Promise<UserProfile> {
    const change = this.change(userID, changes, context)
    whenSettled(change, onSettled)
    return waitForCaller(change.then(() => this.read(userID, context)), context)
  }

  private async change (userID: string, changes: ProfileChanges, context: CallContext): Promise<void> {
    if (!(await this.openim.updateUserInfo(userID, changes, context))) throw new UserNotFound(userID)
  }

  private async read (userID: string, context: CallContext): Promise<UserProfile> {
    const user = await this.openim.userInfo(userID, context)
    if (user === undefined) throw new UserNotFound(userID)
    return toProfile(user)
  }
}

function toProfile ({ userID, nickname, faceURL, ex, createTime }: UserInfo): UserProfile {
  return { userID, nickname, faceURL, ex, createTime: new Date(createTime).toISOString() }
}
