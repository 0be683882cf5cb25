import { ErrCode, OpenImError, UserIdRuleRefusal, isNotFound, isTokenErrCode, mayBeMissingRoute } from './errors.js'
import {
  ROUTE_PROBE, adminTokenReuseMs, dialects, otherGeneration, parseAccountStatus, userIdProblem,
  type Dialect, type DialectRequest, type Generation, type RegisterUser, type TokenData
} from './generations.js'
import { parsedToken, tokenData, type ParsedToken } from './token-answers.js'
import type { CallContext, OpenImTransport } from './transport.js'
import { isUnknownUser, parseUsersInfo, updateUserInfoExBody, type ProfileChanges, type UserInfo } from './users.js'

export interface OpenImClientOptions {
  transport: OpenImTransport
  secret: string
  adminUserID: string
  apiMode: 'auto' | Generation
  /** How long an admin token is reused; unset, by generation (adminTokenReuseMs). */
  adminTokenTtlMs?: number
  now?: () => number
  /** Told about admin-token mints and generation changes (metrics, logs). */
  events?: {
    adminTokenMinted?: (generation: Generation) => void
    generationDetected?: (generation: Generation) => void
  }
}

interface CachedToken { token: string, expiresAt: number }

/**
 * The only code that speaks OpenIM's protocol. It picks (or detects) the API generation, notices when OpenIM is
 * upgraded or downgraded in place, holds the admin token, and exposes the handful of calls provisioning needs.
 * Every call carries the caller's context (operationID, deadline, cancellation).
 */
export class OpenImClient {
  private generation?: Generation
  private adminToken?: CachedToken
  private refreshing?: Promise<string>
  private askingOther?: Promise<boolean>
  private readonly now: () => number

  constructor (private readonly options: OpenImClientOptions) {
    this.now = options.now ?? Date.now
    if (options.apiMode !== 'auto') this.generation = options.apiMode
  }

  /** The generation of the connected OpenIM; in auto mode the first call detects it (and mints the admin token). */
  async connectedGeneration (context: CallContext): Promise<Generation> {
    if (this.generation === undefined) await this.currentAdminToken(context)
    return this.generation as Generation
  }

  async accountCheck (userIDs: string[], context: CallContext): Promise<Map<string, boolean>> {
    const data = await this.adminCall<{ results?: Array<{ userID?: unknown, accountStatus?: unknown }> | null }>(
      '/user/account_check', { checkUserIDs: userIDs }, context)
    const statuses = new Map<string, boolean>()
    for (const result of data?.results ?? []) {
      const registered = parseAccountStatus(result.accountStatus)
      if (typeof result.userID !== 'string' || registered === undefined) {
        throw new OpenImError('bad_response', '/user/account_check', 'OpenIM answered account_check with an unexpected result shape')
      }
      statuses.set(result.userID, registered)
    }
    for (const userID of userIDs) {
      if (!statuses.has(userID)) {
        throw new OpenImError('bad_response', '/user/account_check', 'OpenIM left a userID out of its account_check answer')
      }
    }
    return statuses
  }

  async registerUsers (users: RegisterUser[], context: CallContext): Promise<void> {
    await this.send((dialect) => dialect.register(users, this.options.secret), context, (error) => userIdRuleRefusal(error, users))
  }

  async mintUserToken (userID: string, platformID: number, context: CallContext): Promise<TokenData> {
    const { path, answer } = await this.send((dialect) => dialect.userToken(userID, platformID, this.options.secret), context)
    return tokenData(path, answer)
  }

  /**
   * Whether OpenIM holds `token` as live, and for whom: one call, without the admin token (a public route in
   * every version). A token OpenIM refuses is a 'rejected' OpenImError with its 1501–1507 errCode; it must not
   * go through withAdminToken, which would read that as the admin token's refusal.
   */
  async parseToken (token: string, context: CallContext): Promise<ParsedToken> {
    const path = '/auth/parse_token'
    return parsedToken(path, await this.options.transport.post(path, { token }, context), this.now())
  }

  async forceLogout (userID: string, platformID: number, context: CallContext): Promise<void> {
    await this.adminCall('/auth/force_logout', { platformID, userID }, context)
  }

  /** The user's profile, or undefined when OpenIM does not know the user. */
  async userInfo (userID: string, context: CallContext): Promise<UserInfo | undefined> {
    try {
      const data = await this.adminCall('/user/get_users_info', { userIDs: [userID] }, context)
      return parseUsersInfo(data).find((user) => user.userID === userID)
    } catch (error) {
      if (isUnknownUser(error)) return undefined
      throw error
    }
  }

  /** Changes the profile as the admin; false when OpenIM does not know the user. */
  async updateUserInfo (userID: string, changes: ProfileChanges, context: CallContext): Promise<boolean> {
    try {
      await this.adminCall('/user/update_user_info_ex', updateUserInfoExBody(userID, changes), context)
      return true
    } catch (error) {
      if (isUnknownUser(error)) return false
      throw error
    }
  }

  /** One cheap admin call that proves OpenIM answers and accepts our admin token (for /readyz). */
  async checkReady (context: CallContext): Promise<void> {
    await this.accountCheck([this.options.adminUserID], context)
  }

  /**
   * One of the calls the generations spell differently, built for the connected one. A refusal that the other
   * generation would explain (a missing route, or the secret or token the other one expects) makes it ask the
   * other generation's admin route: when that answers, OpenIM was upgraded or downgraded in place, and the call
   * is sent once more, the new way. `explain` names refusals that need no such question.
   */
  private async send (build: (dialect: Dialect) => DialectRequest, context: CallContext,
    explain?: (error: unknown) => Error | undefined): Promise<{ path: string, answer: unknown }> {
    const generation = await this.connectedGeneration(context)
    let request = build(dialects[generation])
    try {
      return { path: request.path, answer: await this.sendOnce(request, context) }
    } catch (error) {
      const explained = explain?.(error)
      if (explained !== undefined) throw explained
      if (!(await this.generationChanged(generation, error, context))) throw error
    }
    request = build(dialects[this.generation!])
    return { path: request.path, answer: await this.sendOnce(request, context) }
  }

  /** A generation's request: with the admin token where it needs one, with the secret in its body where not. */
  private sendOnce (request: DialectRequest, context: CallContext): Promise<unknown> {
    if (request.needsAdminToken) {
      return this.withAdminToken(context, (token) => this.options.transport.post(request.path, request.body, { ...context, token }))
    }
    return this.options.transport.post(request.path, request.body, context)
  }

  /**
   * Whether `error`, from a call made the `from` generation's way, means OpenIM now speaks the other one. Only
   * refusals a server of the other generation gives such a call can (1001 from v3.8+'s token middleware, gin's
   * 404, 1002 from a secret or token check) lead to asking; the other generation's admin route answering 0 is
   * believed, and its token kept. Concurrent callers share one question.
   */
  private async generationChanged (from: Generation, error: unknown, context: CallContext): Promise<boolean> {
    if (this.options.apiMode !== 'auto' || !(error instanceof OpenImError) || !OTHER_GENERATION_SIGNS(error)) return false
    if (this.generation !== from) return this.generation !== undefined
    this.askingOther ??= this.askOtherGeneration(from, context).finally(() => { this.askingOther = undefined })
    const changed = await this.askingOther
    if (!changed && isNotFound(error)) this.forgetGeneration()
    return changed
  }

  private async askOtherGeneration (from: Generation, context: CallContext): Promise<boolean> {
    const to = otherGeneration(from)
    // Shared by every caller meanwhile: it runs on the operationID alone, like an admin-token mint.
    const answer = await this.askAdminRoute(to, { operationID: context.operationID })
    if ('data' in answer) {
      this.adopt(to, answer.data)
      return true
    }
    // 1002: the other generation is there and refuses the secret. Anything else: it is not there.
    if (answer.refusal.errCode === ErrCode.NoPermission) {
      this.forgetGeneration()
      throw authFailure(answer.refusal.path, answer.refusal)
    }
    return false
  }

  /**
   * Runs an admin call. When OpenIM says the admin token is expired, kicked or gone (1501–1507), the token
   * is replaced once and the call retried; a second refusal is the caller's error.
   */
  private async withAdminToken<T> (context: CallContext, call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.currentAdminToken(context)
    try {
      return await call(token)
    } catch (error) {
      if (error instanceof OpenImError && error.kind === 'rejected' && isTokenErrCode(error.errCode)) {
        return call(await this.replaceAdminToken(context, token))
      }
      throw error
    }
  }

  /** A call both generations make alike, with the admin token. */
  private async adminCall<T = unknown> (path: string, body: unknown, context: CallContext): Promise<T | undefined> {
    try {
      return await this.withAdminToken(context, (token) => this.options.transport.post<T>(path, body, { ...context, token }))
    } catch (error) {
      // A 404 on a route every generation has: something else answers there now. Detect again next time.
      if (error instanceof OpenImError && isNotFound(error)) this.forgetGeneration()
      throw error
    }
  }

  private async currentAdminToken (context: CallContext): Promise<string> {
    const cached = this.adminToken
    if (cached !== undefined && cached.expiresAt > this.now()) return cached.token
    return this.replaceAdminToken(context)
  }

  /** One mint in flight at a time; callers holding a token someone already replaced get the new one. */
  private replaceAdminToken (context: CallContext, stale?: string): Promise<string> {
    if (this.refreshing !== undefined) return this.refreshing
    const cached = this.adminToken
    if (stale !== undefined && cached !== undefined && cached.token !== stale && cached.expiresAt > this.now()) {
      return Promise.resolve(cached.token)
    }
    // Shared by every caller that needs the token meanwhile, so it must not end with the first one's deadline
    // or departure: it runs on the operationID alone (each caller still waits only until its own deadline).
    this.refreshing = this.mintAdminToken({ operationID: context.operationID }).finally(() => { this.refreshing = undefined })
    return this.refreshing
  }

  private async mintAdminToken (context: CallContext): Promise<string> {
    this.adminToken = undefined
    let minted: { generation: Generation, data: TokenData }
    try {
      minted = await this.detect(context)
    } catch (error) {
      // A failed admin mint may mean OpenIM was upgraded or replaced: detect again next time.
      this.forgetGeneration()
      throw error
    }
    this.adopt(minted.generation, minted.data)
    return minted.data.token
  }

  /** Takes a freshly minted admin token, and the generation that minted it. */
  private adopt (generation: Generation, data: TokenData) {
    if (this.generation !== generation) {
      this.generation = generation
      this.options.events?.generationDetected?.(generation)
    }
    this.options.events?.adminTokenMinted?.(generation)
    // Reused for the TTL (by generation unless set), never past the token's own lifetime (less a margin for clock skew).
    const lifetimeMs = Math.max(0, data.expireTimeSeconds * 1000 - 30_000)
    const reuseMs = this.options.adminTokenTtlMs ?? adminTokenReuseMs(generation, data.expireTimeSeconds * 1000)
    this.adminToken = { token: data.token, expiresAt: this.now() + Math.min(reuseMs, lifetimeMs) }
  }

  /**
   * The admin token, from the generation this client knows (current first when it knows none; only it with an
   * explicit OPENIM_API_MODE). CONTRACT.md §1: believe the admin route that answers 0 or 1002 (wrong secret).
   * Where one route may be missing (1001 from v3.8+'s token middleware, or gin's 404), the other is asked; the
   * admin token the answering route mints is the one used. Nothing is remembered from a failed detection.
   */
  private async detect (context: CallContext): Promise<{ generation: Generation, data: TokenData }> {
    const first = this.generation ?? 'current'
    const order = this.options.apiMode === 'auto' ? [first, otherGeneration(first)] : [first]
    const missing: OpenImError[] = []
    for (const generation of order) {
      const answer = await this.askAdminRoute(generation, context)
      if ('data' in answer) return { generation, data: answer.data }
      // Any other refusal comes from a route this server has: it is that generation's answer.
      if (!mayBeMissingRoute(answer.refusal)) throw adminRefusal(answer.refusal)
      missing.push(answer.refusal)
    }
    // get_admin_token is public on every server that has it, and answers 1001 for a userID not in imAdminUserID
    // (a legacy server would have answered /auth/user_token). But at an OPENIM_API_URL path OpenIM lacks, v3.8+'s
    // token middleware answers 1001 to everything: a route every release has tells the two apart.
    const refusal = missing.find((error) => !isNotFound(error))
    if (refusal === undefined || !(await this.routesAnswer(context))) {
      throw new OpenImError('bad_response', missing[0]!.path,
        'OpenIM knows neither /auth/get_admin_token nor /auth/user_token: check OPENIM_API_URL', { httpStatus: 404 })
    }
    throw adminRefusal(refusal)
  }

  /** Whether OpenIM's routes are at the configured URL (ROUTE_PROBE answering a token errCode). */
  private async routesAnswer (context: CallContext): Promise<boolean> {
    try {
      await this.options.transport.post(ROUTE_PROBE.path, ROUTE_PROBE.body, context)
      return false
    } catch (error) {
      return error instanceof OpenImError && error.kind === 'rejected' && isTokenErrCode(error.errCode)
    }
  }

  /** A generation's admin route asked once: its token, or its refusal (errCode or 404); other failures throw. */
  private async askAdminRoute (generation: Generation, context: CallContext): Promise<{ data: TokenData } | { refusal: OpenImError }> {
    const request = dialects[generation].adminToken(this.options.secret, this.options.adminUserID)
    try {
      return { data: tokenData(request.path, await this.options.transport.post(request.path, request.body, context)) }
    } catch (error) {
      if (error instanceof OpenImError && (error.kind === 'rejected' || isNotFound(error))) return { refusal: error }
      throw error
    }
  }

  private forgetGeneration () {
    if (this.options.apiMode !== 'auto') return
    this.generation = undefined
    this.adminToken = undefined
  }

  async close (): Promise<void> {
    await this.options.transport.close()
  }
}

// Refusals a call gets from a server of the other generation: a route it lacks (1001 from v3.8+'s token
// middleware, gin's 404), or the secret (legacy register without it) or token it expected (1002).
const OTHER_GENERATION_SIGNS = (error: OpenImError) =>
  mayBeMissingRoute(error) || (error.kind === 'rejected' && error.errCode === ErrCode.NoPermission)

// Refusals of the admin credentials: wrong secret (1002), not the admin userID (1001), or no such user
// (1101 up to v3.8.2, 1004 from v3.8.3): never the caller's "user not found".
const ADMIN_REFUSALS = new Set<number | undefined>([ErrCode.NoPermission, ErrCode.Args, ErrCode.UserIDNotFound, ErrCode.RecordNotFound])

/** An admin route's refusal: an auth failure when it refused the credentials, else the error as it came. */
function adminRefusal (error: OpenImError): OpenImError {
  return error.kind === 'rejected' && ADMIN_REFUSALS.has(error.errCode) ? authFailure(error.path, error) : error
}

function authFailure (path: string, cause: OpenImError): OpenImError {
  return new OpenImError('auth_failed', path,
    `OpenIM refused the admin credentials (errCode ${cause.errCode}): check OPENIM_SECRET and OPENIM_ADMIN_USER_ID`,
    cause.details)
}

/** A 1001 from user_register for a batch with a new userID outside v3.8's rule: that rule's refusal. */
function userIdRuleRefusal (error: unknown, users: RegisterUser[]): Error | undefined {
  if (!(error instanceof OpenImError) || error.kind !== 'rejected' || error.errCode !== ErrCode.Args) return undefined
  const breaking = users.map((user) => user.userID).filter((userID) => userIdProblem(userID, 'current') !== undefined)
  return breaking.length === 0 ? undefined : new UserIdRuleRefusal(error, breaking)
}
