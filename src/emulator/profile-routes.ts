import { ApiError, DecodeError, field, objectOf, stringArrayField, stringField } from './envelope.js'
import type { Route, RouteContext, StoredUser } from './routes.js'
import type { Claims } from './tokens.js'

// The profile routes, kept apart from routes.ts so they merge cleanly. Read from open-im-server v3.7.1 and
// v3.8.3-patch.15 (internal/rpc/user/user.go GetDesignateUsers, UpdateUserInfoEx; pkg/common/convert
// UserPb2DBMapEx) with protocol v0.0.65 / v0.0.73-alpha.18 (user/user.go Check methods). Modes with
// `profilesV382` answer as v3.8.2+ does, the others as v3.7–v3.8.1 do.

/** sdkws.UserInfo as encoding/json writes it (createTime in milliseconds). */
function userInfo (user: StoredUser) {
  return {
    userID: user.userID,
    nickname: user.nickname,
    faceURL: user.faceURL,
    ex: user.ex,
    createTime: user.createTime * 1000,
    appMangerLevel: 0,
    globalRecvMsgOpt: 0
  }
}

/** A *wrapperspb.StringValue field: absent or null leaves it alone; otherwise an object whose `value` is a string. */
function wrappedString (body: Record<string, unknown>, name: string): string | undefined {
  const value = field(body, name)
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) {
    const kind = Array.isArray(value) ? 'array' : typeof value
    const goField = `UserInfoWithEx.userInfo.${name}`
    throw new DecodeError(`json: cannot unmarshal ${kind} into Go struct field ${goField} of type wrapperspb.StringValue`)
  }
  return stringField(value as Record<string, unknown>, 'value')
}

/** authverify.CheckAccessV3: the admin, or the user themself. */
function requireAdminOrSelf (ctx: RouteContext, caller: Claims | undefined, userID: string) {
  if (caller?.userID !== ctx.adminUserID && caller?.userID !== userID) throw new ApiError(1002, 'no permission for this user')
}

const route = <Request>(definition: Route<Request>): Route<Request> => definition

interface ProfileUpdate { userID: string, nickname?: string, faceURL?: string, ex?: string }

export const profileRoutes: Record<string, Route> = {
  // Any valid token may read profiles; there is no admin check upstream.
  '/user/get_users_info': route({
    decode: (body) => stringArrayField(body, 'userIDs'),
    check (userIDs) {
      if (userIDs === undefined) throw new ApiError(1001, 'UserIDs is empty')
    },
    handle (userIDs: string[], ctx) {
      const found = [...new Set(userIDs)].flatMap((userID) => {
        const user = ctx.users.get(userID)
        return user === undefined ? [] : [userInfo(user)]
      })
      // v3.8.2+ (#2792) leaves unknown users out; before, FindWithError fails when fewer users than IDs came back.
      if (!ctx.behaviour.profilesV382 && found.length !== userIDs.length) throw new ApiError(1004, 'userID not found')
      return { usersInfo: found.length === 0 ? null : found }
    }
  }),
  '/user/update_user_info_ex': route({
    decode (body): ProfileUpdate | undefined {
      const rawInfo = field(body, 'userInfo')
      if (rawInfo === undefined || rawInfo === null) return undefined
      const info = objectOf(rawInfo, 'sdkws.UserInfoWithEx')
      return {
        userID: stringField(info, 'userID'),
        nickname: wrappedString(info, 'nickname'),
        faceURL: wrappedString(info, 'faceURL'),
        ex: wrappedString(info, 'ex')
      }
    },
    // protocol v0.0.73 added a Check(); before, v3.7 dereferences the nil userInfo and the RPC panics.
    check (update, ctx) {
      if (!ctx.behaviour.profilesV382) return
      if (update === undefined) throw new ApiError(1001, 'userInfo is empty')
      if (update.userID === '') throw new ApiError(1001, 'userID is empty')
    },
    handle (update: ProfileUpdate | undefined, ctx, caller) {
      if (update === undefined) throw new ApiError(500, 'panic: runtime error: invalid memory address or nil pointer dereference')
      const { userID, ...changes } = update
      requireAdminOrSelf(ctx, caller, userID)
      const user = ctx.users.get(userID)
      // See Behaviour.updateLoadsUser: v3.8.0+ answer 1004 for an unknown user whatever is set; v3.7 only when
      // something is (Mongo's update matches nothing), and 0 for an update that sets nothing.
      const setsSomething = Object.values(changes).some((value) => value !== undefined)
      if (user === undefined) {
        if (!ctx.behaviour.updateLoadsUser && !setsSomething) return undefined
        throw new ApiError(1004, ctx.behaviour.updateLoadsUser ? 'record not found' : 'mongo update not matched')
      }
      // Upstream writes what it is given, an empty nickname included: the gateway refuses that itself.
      if (changes.nickname !== undefined) user.nickname = changes.nickname
      if (changes.faceURL !== undefined) user.faceURL = changes.faceURL
      if (changes.ex !== undefined) user.ex = changes.ex
      return undefined
    }
  })
}
