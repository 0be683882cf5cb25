import { ApiError, arrayField, intField, objectOf, stringArrayField, stringField } from './envelope.js'
import type { Behaviour } from './modes.js'
import type { Claims, TokenStore } from './tokens.js'
import { profileRoutes } from './profile-routes.js'

export interface StoredUser { userID: string, nickname: string, faceURL: string, ex: string, appMangerLevel: number, createTime: number }

export interface RouteContext {
  behaviour: Behaviour
  secret: string
  adminUserID: string
  users: Map<string, StoredUser>
  tokens: TokenStore
  nowSeconds: () => number
}

/**
 * One REST route, in the order OpenIM's a2r.Call runs it: decode the JSON body into the request struct
 * (a failure is a bad-JSON answer), the protobuf request's Check() (1001), then the RPC, where the admin
 * and secret checks live. So a non-admin sending an invalid body gets 1001, not 1002.
 */
export interface Route<Request = any> {
  decode (body: Record<string, unknown>): Request
  check? (request: Request, ctx: RouteContext): void
  handle (request: Request, ctx: RouteContext, caller?: Claims): Promise<unknown> | unknown
}

const route = <Request>(definition: Route<Request>): Route<Request> => definition

const ADMIN_PLATFORM_ID = 10
const APP_NOTIFICATION_ADMIN = 3 // appMangerLevel of notification accounts (and of the admin itself)

const argsError = (detail: string) => new ApiError(1001, detail)

function requireAdmin (ctx: RouteContext, caller: Claims | undefined) {
  if (caller?.userID !== ctx.adminUserID) throw new ApiError(1002, 'only admin can do this')
}

function requireSecret (ctx: RouteContext, secret: string) {
  if (secret !== ctx.secret) throw new ApiError(1002, 'secret invalid')
}

function existingUser (ctx: RouteContext, userID: string): StoredUser {
  const user = ctx.users.get(userID)
  if (user === undefined) throw new ApiError(ctx.behaviour.unknownUserErrCode, userID)
  return user
}

function checkPlatform (platformID: number, detail: string) {
  if (platformID < 1 || platformID > ADMIN_PLATFORM_ID) throw argsError(detail)
}

const mintReply = async (ctx: RouteContext, userID: string, platformID: number) =>
  ({ token: await ctx.tokens.mint(userID, platformID), expireTimeSeconds: ctx.tokens.lifetime })

// --- user_register: protocol's UserRegisterReq.Check, then the RPC (internal/rpc/user/user.go) ---

type NewUser = Omit<StoredUser, 'createTime'> | null

function decodeUsers (body: Record<string, unknown>): NewUser[] | undefined {
  return arrayField(body, 'users')?.map((value) => {
    if (value === null) return null
    const user = objectOf(value, 'sdkws.UserInfo')
    return {
      userID: stringField(user, 'userID'),
      nickname: stringField(user, 'nickname'),
      faceURL: stringField(user, 'faceURL'),
      ex: stringField(user, 'ex'),
      appMangerLevel: intField(user, 'appMangerLevel')
    }
  })
}

// Go's unicode.IsLetter / unicode.IsDigit; an empty ID passes here and is refused by the RPC.
const isLegalUserID = (userID: string) => /^[\p{L}\p{Nd}_]*$/u.test(userID)

function checkUsers (users: NewUser[] | undefined, { behaviour }: RouteContext) {
  const v069 = behaviour.strictUserIDs // protocol v0.0.69 brought the rule and reworded the messages
  if (users === undefined) throw argsError(v069 ? 'users are empty' : 'Users are empty')
  for (const user of users) {
    if (user === null) {
      if (v069) throw argsError('user is empty')
      throw new Error('nil pointer dereference') // v3.7's Check reads the nickname of a null user: a panic
    }
    // Upstream's message really is this misleading (CONTRACT.md §4).
    if (v069 && !isLegalUserID(user.userID)) throw argsError('userID is legal')
  }
  for (const user of users) {
    if (user?.nickname === '') throw argsError(v069 ? 'user name is empty' : 'User name is empty')
  }
}

function register (ctx: RouteContext, users: NewUser[]) {
  const accepted = users as Array<Exclude<NewUser, null>> // checkUsers let no null through
  const userIDs = accepted.map((user) => user.userID)
  if (new Set(userIDs).size !== userIDs.length) throw argsError('userID repeated')
  for (const userID of userIDs) {
    if (userID === '') throw argsError('userID is empty')
    if (userID.includes(':')) throw argsError('userID contains \':\' is invalid userID')
  }
  // One existing userID fails the whole batch and inserts nothing.
  if (userIDs.some((userID) => ctx.users.has(userID))) throw new ApiError(1102, 'userID registered already')
  for (const user of accepted) ctx.users.set(user.userID, { ...user, createTime: ctx.nowSeconds() })
  return undefined
}

const sharedRoutes: Record<string, Route> = {
  ...profileRoutes,
  '/user/account_check': route({
    decode: (body) => stringArrayField(body, 'checkUserIDs'),
    check (userIDs) {
      if (userIDs === undefined) throw argsError('CheckUserIDs is empty')
    },
    handle (userIDs: string[], ctx, caller) {
      if (new Set(userIDs).size !== userIDs.length) throw argsError('userID repeated') // before the admin check
      requireAdmin(ctx, caller)
      if (userIDs.length === 0) return { results: null }
      const [registered, unregistered] = ctx.behaviour.numericAccountStatus ? [1, 0] : ['registered', 'unregistered']
      return { results: userIDs.map((userID) => ({ userID, accountStatus: ctx.users.has(userID) ? registered : unregistered })) }
    }
  }),
  '/auth/parse_token': route({
    decode: (body) => stringField(body, 'token'),
    check (token) {
      if (token === '') throw argsError('userID is empty') // sic: protocol's ParseTokenReq.Check
    },
    async handle (token, ctx) {
      const claims = await ctx.tokens.verify(token)
      return { userID: claims.userID, platformID: claims.platformID, expireTimeSeconds: claims.exp }
    }
  }),
  '/auth/force_logout': route({
    decode: (body) => ({ platformID: intField(body, 'platformID'), userID: stringField(body, 'userID') }),
    check ({ platformID, userID }) {
      if (userID === '') throw argsError('userID is empty')
      checkPlatform(platformID, 'platformID is invalidate')
    },
    // No check that the user exists: OpenIM kicks whatever connections and tokens that pair has.
    handle ({ platformID, userID }, ctx, caller) {
      requireAdmin(ctx, caller)
      ctx.tokens.forceLogout(userID, platformID)
      return undefined
    }
  }),
  // v3.6+: mint with an admin token. Its Check() validates nothing upstream (the errors are never returned).
  '/auth/get_user_token': route({
    decode: (body) => ({ platformID: intField(body, 'platformID'), userID: stringField(body, 'userID') }),
    async handle ({ platformID, userID }, ctx, caller) {
      requireAdmin(ctx, caller)
      const { behaviour } = ctx
      if (behaviour.refusesAdminPlatform && platformID === ADMIN_PLATFORM_ID) {
        throw new ApiError(1002, 'platformID invalid. platformID must not be adminPlatformID')
      }
      if (userID === ctx.adminUserID) throw new ApiError(1002, 'don\'t get Admin token')
      const user = existingUser(ctx, userID)
      if (behaviour.refusesAppAccounts && user.appMangerLevel >= APP_NOTIFICATION_ADMIN) throw argsError('app account can`t get token')
      return mintReply(ctx, userID, platformID)
    }
  })
}

/** v3.8.1 and later (v3.8.3-patch behaviour). */
export const currentRoutes: Record<string, Route> = {
  ...sharedRoutes,
  '/auth/get_admin_token': route({
    decode: (body) => ({ secret: stringField(body, 'secret'), userID: stringField(body, 'userID') }),
    check ({ userID }) {
      if (userID === '') throw argsError('userID is empty')
    },
    async handle ({ secret, userID }, ctx) {
      requireSecret(ctx, secret)
      if (userID !== ctx.adminUserID) throw argsError('userID is error.')
      existingUser(ctx, userID)
      return mintReply(ctx, userID, ADMIN_PLATFORM_ID)
    }
  }),
  '/user/user_register': route({
    decode: decodeUsers, // a `secret` key in the body is silently ignored
    check: checkUsers,
    handle (users: NewUser[], ctx, caller) {
      if (users.length === 0) throw argsError('users is empty')
      requireAdmin(ctx, caller)
      return register(ctx, users)
    }
  })
}

/** v3.0 – v3.8.0: the secret instead of an admin token. */
export const legacyRoutes: Record<string, Route> = {
  ...sharedRoutes,
  // No admin guard: with the secret, the admin userID gets an admin token; any platform 1–10 is minted.
  '/auth/user_token': route({
    decode: (body) => ({
      secret: stringField(body, 'secret'), platformID: intField(body, 'platformID'), userID: stringField(body, 'userID')
    }),
    check ({ platformID, userID }) {
      if (userID === '') throw argsError('userID is empty')
      checkPlatform(platformID, 'platform is invalidate')
    },
    async handle ({ secret, platformID, userID }, ctx) {
      requireSecret(ctx, secret)
      existingUser(ctx, userID)
      return mintReply(ctx, userID, platformID)
    }
  }),
  '/user/user_register': route({
    decode: (body) => ({ secret: stringField(body, 'secret'), users: decodeUsers(body) }),
    check: ({ users }, ctx) => checkUsers(users, ctx),
    handle ({ secret, users }: { secret: string, users: NewUser[] }, ctx) {
      if (users.length === 0) throw argsError('users is empty')
      requireSecret(ctx, secret)
      return register(ctx, users)
    }
  })
}
