import { GatewayError } from '../errors.js'
import type { OpenImClient } from '../openim/client.js'
import type { CallContext } from '../openim/transport.js'
import type { ProfileChanges, UserProfile } from '../openim/users.js'

export interface Profile { userID: string, nickname: string, faceURL: string, ex: string, createTime: string }

export interface ProfileOptions {
  openim: OpenImClient
  isReserved: (userID: string) => boolean
}

/**
 * GET and PATCH /users/{userID}: read and change a user's OpenIM profile. No userID format rule applies:
 * users registered under an older OpenIM's rules keep their IDs (CONTRACT.md §4).
 */
export class ProfileService {
  constructor (private readonly options: ProfileOptions) {}

  async get (userID: string, context: CallContext): Promise<Profile> {
    this.assertNotReserved(userID)
    return this.read(userID, context)
  }

  /** Changes what `changes` names and answers the profile as OpenIM now holds it (2 OpenIM calls). */
  async update (userID: string, changes: ProfileChanges, context: CallContext): Promise<Profile> {
    this.assertNotReserved(userID)
    if (!(await this.options.openim.updateUserInfo(userID, changes, context))) throw notFound(userID)
    return this.read(userID, context)
  }

  private async read (userID: string, context: CallContext): Promise<Profile> {
    const user = await this.options.openim.userInfo(userID, context)
    if (user === undefined) throw notFound(userID)
    return toProfile(user)
  }

  private assertNotReserved (userID: string) {
    if (this.options.isReserved(userID)) {
      throw new GatewayError(403, 'RESERVED_USER_ID', 'this userID is reserved for OpenIM\'s own accounts and cannot be read or changed through the gateway')
    }
  }
}

const notFound = (userID: string) => new GatewayError(404, 'USER_NOT_FOUND', `OpenIM has no user "${userID}"`)

function toProfile (user: UserProfile): Profile {
  return { userID: user.userID, nickname: user.nickname, faceURL: user.faceURL, ex: user.ex, createTime: new Date(user.createTime).toISOString() }
}
