import { ApiError, arrayField, intField, objectOf, stringField } from './envelope.js'
import type { EmulatorMode } from './emulator.js'
import type { Claims, TokenStore } from './tokens.js'
import { profileRoutes } from './profile-routes.js'

export interface StoredUser { userID: string, nickname: string, faceURL: string, ex: string, createTime: number }

export interface RouteContext {
  mode: EmulatorMode
  secret: string
  adminUserID: string
  users: Map<string, StoredUser>
  tokens: TokenStore
  nowSeconds: () => number
}

export interface Route {
  /** Whether OpenIM's token middleware lets this path through without a `token` header. */
  public: boolean
  handle (body: Record<string, unknown>, ctx: RouteContext, caller?: Claims): Promise<unknown> | unknown
}

const ADMIN_PLATFORM_ID = 10

function requireAdmin (ctx: RouteContext, caller: Claims | undefined) {
  if (caller?.userID !== ctx.adminUserID) throw new ApiError(1002, 'only admin can do this')
}

function requireSecret (ctx: RouteContext, secret: string) {
  if (secret !== ctx.secret) throw new ApiError(1002, 'secret invalid')
}

function userIdIsLegal (mode: EmulatorMode, userID: string): boolean {
  if (userID === '') return false
  return mode === 'current' ? /^[\p{L}\p{Nd}_]+$/u.test(userID) : !userID.includes(':')
}

async function mintUserToken (ctx: RouteContext, userID: string, platformID: number) {
  if (platformID === ADMIN_PLATFORM_ID) throw new ApiError(1002, 'platformID invalid')
  if (userID === ctx.adminUserID) throw new ApiError(1002, 'don\'t get Admin token')
  if (!ctx.users.has(userID)) throw new ApiError(1004, 'user not found')
  return { token: await ctx.tokens.mint(userID, platformID, false), expireTimeSeconds: ctx.tokens.lifetime }
}

function register (ctx: RouteContext, body: Record<string, unknown>) {
  const users = arrayField(body, 'users').map((user) => objectOf(user, 'sdkws.UserInfo'))
  if (users.length === 0) throw new ApiError(1001, 'users is empty')
  const seen = new Set<string>()
  for (const user of users) {
    const userID = stringField(user, 'userID')
    // Upstream's message really is this misleading (CONTRACT.md §4).
    if (!userIdIsLegal(ctx.mode, userID)) throw new ApiError(1001, 'userID is legal')
    if (stringField(user, 'nickname') === '') throw new ApiError(1001, 'nickname is empty')
    if (seen.has(userID)) throw new ApiError(1001, 'userID repeated')
    seen.add(userID)
  }
  // One existing userID fails the whole batch and inserts nothing.
  if ([...seen].some((userID) => ctx.users.has(userID))) throw new ApiError(1102, 'userID registered already')
  for (const user of users) {
    const userID = stringField(user, 'userID')
    ctx.users.set(userID, {
      userID, nickname: stringField(user, 'nickname'), faceURL: stringField(user, 'faceURL'), ex: stringField(user, 'ex'), createTime: ctx.nowSeconds()
    })
  }
  return undefined
}

const sharedRoutes: Record<string, Route> = {
  ...profileRoutes,
  '/user/account_check': {
    public: false,
    handle (body, ctx, caller) {
      requireAdmin(ctx, caller)
      const userIDs = arrayField(body, 'checkUserIDs').map((id) => {
        if (typeof id !== 'string') throw new ApiError(1001, 'checkUserIDs must be strings')
        return id
      })
      if (new Set(userIDs).size !== userIDs.length) throw new ApiError(1001, 'userID repeated')
      if (userIDs.length === 0) return { results: null }
      const registered = ctx.mode === 'current' ? 1 : 'registered'
      const unregistered = ctx.mode === 'current' ? 0 : 'unregistered'
      return { results: userIDs.map((userID) => ({ userID, accountStatus: ctx.users.has(userID) ? registered : unregistered })) }
    }
  },
  '/auth/parse_token': {
    public: true,
    async handle (body, ctx) {
      const claims = await ctx.tokens.verify(stringField(body, 'token'))
      return { userID: claims.userID, platformID: claims.platformID, expireTimeSeconds: claims.exp }
    }
  },
  '/auth/force_logout': {
    public: false,
    handle (body, ctx, caller) {
      requireAdmin(ctx, caller)
      const platformID = intField(body, 'platformID')
      const userID = stringField(body, 'userID')
      if (platformID < 1 || platformID > ADMIN_PLATFORM_ID) throw new ApiError(1001, 'platformID invalid')
      if (userID === '') throw new ApiError(1001, 'userID is empty')
      ctx.tokens.forceLogout(userID, platformID)
      return undefined
    }
  },
  // v3.6+ and current: mint with an admin token.
  '/auth/get_user_token': {
    public: false,
    async handle (body, ctx, caller) {
      requireAdmin(ctx, caller)
      return mintUserToken(ctx, stringField(body, 'userID'), intField(body, 'platformID'))
    }
  }
}

/** v3.8.1 and later (v3.8.3-patch behaviour). */
export const currentRoutes: Record<string, Route> = {
  ...sharedRoutes,
  '/auth/get_admin_token': {
    public: true,
    async handle (body, ctx) {
      requireSecret(ctx, stringField(body, 'secret'))
      const userID = stringField(body, 'userID')
      if (userID !== ctx.adminUserID) throw new ApiError(1001, 'userID is error')
      return { token: await ctx.tokens.mint(userID, ADMIN_PLATFORM_ID, true), expireTimeSeconds: ctx.tokens.lifetime }
    }
  },
  '/user/user_register': {
    public: false,
    handle (body, ctx, caller) {
      requireAdmin(ctx, caller) // a `secret` key in the body is silently ignored
      return register(ctx, body)
    }
  }
}

/** v3.0 – v3.8.0 (v3.7.x behaviour). */
export const legacyRoutes: Record<string, Route> = {
  ...sharedRoutes,
  '/auth/user_token': {
    public: true,
    async handle (body, ctx) {
      requireSecret(ctx, stringField(body, 'secret'))
      const userID = stringField(body, 'userID')
      const platformID = intField(body, 'platformID')
      if (userID === ctx.adminUserID) {
        return { token: await ctx.tokens.mint(userID, platformID, true), expireTimeSeconds: ctx.tokens.lifetime }
      }
      return mintUserToken(ctx, userID, platformID)
    }
  },
  '/user/user_register': {
    public: true,
    handle (body, ctx) {
      requireSecret(ctx, stringField(body, 'secret'))
      return register(ctx, body)
    }
  }
}
