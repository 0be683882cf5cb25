import { ErrCode, OpenImError, isTokenErrCode, isUnknownRoute } from './errors.js'
import { dialects, parseAccountStatus, type Dialect, type DialectRequest, type Generation, type RegisterUser, type TokenData } from './generations.js'
import { parsedToken, tokenData, type ParsedToken } from './token-answers.js'
import type { CallContext, OpenImTransport } from './transport.js'
import { isUnknownUser, parseUsersInfo, updateUserInfoExBody, type ProfileChanges, type UserProfile } from './users.js'

export interface OpenImClientOptions {
  transport: OpenImTransport
  secret: string
  adminUserID: string
  apiMode: 'auto' | Generation
  adminTokenTtlMs: number
  now?: () => number
  /** Told about admin-token mints and generation changes (metrics, logs). */
  events?: {
    adminTokenMinted?: (generation: Generation) => void
    generationDetected?: (generation: Generation) => void
  }
}

interface CachedToken { token: string, expiresAt: number }

/**
 * The only code that speaks OpenIM's protocol. It picks (or detects) the API generation, holds the admin
 * token, and exposes the handful of calls provisioning needs. Every call carries the caller's context (operationID, deadline, cancellation).
 */
export class OpenImClient {
  private generation?: Generation
  private adminToken?: CachedToken
  private refreshing?: Promise<string>
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
    const data = await this.withAdminToken(context, (token) =>
      this.options.transport.post<{ results?: Array<{ userID?: unknown, accountStatus?: unknown }> | null }>(
        '/user/account_check', { checkUserIDs: userIDs }, { ...context, token }))
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
    await this.send((await this.dialect(context)).register(users, this.options.secret), context)
  }

  async mintUserToken (userID: string, platformID: number, context: CallContext): Promise<TokenData> {
    const request = (await this.dialect(context)).userToken(userID, platformID, this.options.secret)
    return tokenData(request.path, await this.send(request, context))
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
    await this.withAdminToken(context, (token) =>
      this.options.transport.post('/auth/force_logout', { platformID, userID }, { ...context, token }))
  }

  /** The user's profile, or undefined when OpenIM does not know the user. */
  async userInfo (userID: string, context: CallContext): Promise<UserProfile | undefined> {
    try {
      const data = await this.withAdminToken(context, (token) =>
        this.options.transport.post('/user/get_users_info', { userIDs: [userID] }, { ...context, token }))
      return parseUsersInfo(data).find((user) => user.userID === userID)
    } catch (error) {
      if (isUnknownUser(error)) return undefined
      throw error
    }
  }

  /** Changes the profile as the admin; false when OpenIM does not know the user. */
  async updateUserInfo (userID: string, changes: ProfileChanges, context: CallContext): Promise<boolean> {
    try {
      await this.withAdminToken(context, (token) =>
        this.options.transport.post('/user/update_user_info_ex', updateUserInfoExBody(userID, changes), { ...context, token }))
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

  private async dialect (context: CallContext): Promise<Dialect> {
    return dialects[await this.connectedGeneration(context)]
  }

  /** A generation's request: with the admin token where it needs one, with the secret in its body where not. */
  private async send (request: DialectRequest, context: CallContext): Promise<unknown> {
    if (request.needsAdminToken) {
      return this.withAdminToken(context, (token) => this.options.transport.post(request.path, request.body, { ...context, token }))
    }
    try {
      return await this.options.transport.post(request.path, request.body, context)
    } catch (error) {
      this.forgetGenerationOnUnknownRoute(error)
      throw error
    }
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
      this.forgetGenerationOnUnknownRoute(error)
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
      minted = this.generation === undefined
        ? await this.detect(context)
        : { generation: this.generation, data: await this.mintAdminTokenAs(dialects[this.generation], context) }
    } catch (error) {
      // A failed admin mint may mean OpenIM was upgraded or replaced: detect again next time.
      this.forgetGeneration()
      throw error
    }
    if (this.generation !== minted.generation) {
      this.generation = minted.generation
      this.options.events?.generationDetected?.(minted.generation)
    }
    this.options.events?.adminTokenMinted?.(minted.generation)
    // Reuse for the TTL, never past the token's own lifetime (less a margin for clock skew).
    const lifetimeMs = Math.max(0, minted.data.expireTimeSeconds * 1000 - 30_000)
    this.adminToken = { token: minted.data.token, expiresAt: this.now() + Math.min(this.options.adminTokenTtlMs, lifetimeMs) }
    return minted.data.token
  }

  private async mintAdminTokenAs (dialect: Dialect, context: CallContext): Promise<TokenData> {
    const request = dialect.adminToken(this.options.secret, this.options.adminUserID)
    try {
      return tokenData(request.path, await this.options.transport.post(request.path, request.body, context))
    } catch (error) {
      if (error instanceof OpenImError && error.kind === 'rejected' && !isUnknownRoute(error) && ADMIN_REFUSALS.has(error.errCode)) {
        throw authFailure(request.path, error)
      }
      throw error
    }
  }

  /**
   * CONTRACT.md §1: get_admin_token answering 0 (or 1002, wrong secret) means current. A legacy server does
   * not know that route (1001 "header must have token" on v3.8.0, plain 404 before), and there
   * /auth/user_token with the secret answers instead. The admin token the probe obtains is the one used.
   * Nothing is remembered from a failed probe: the next call detects again.
   */
  private async detect (context: CallContext): Promise<{ generation: Generation, data: TokenData }> {
    let currentRefusal: OpenImError
    try {
      return { generation: 'current', data: await this.mintAdminTokenAs(current, context) }
    } catch (error) {
      // 1002 (wrong secret) is a current server refusing us; anything but a missing route or 1001 is a failure.
      const adminRefused = error instanceof OpenImError && error.kind === 'auth_failed' && error.errCode === ErrCode.Args
      if (!(error instanceof OpenImError) || !(isUnknownRoute(error) || adminRefused)) throw error
      currentRefusal = error
    }
    try {
      return { generation: 'legacy', data: await this.mintAdminTokenAs(legacy, context) }
    } catch (error) {
      // No /auth/user_token either. Then get_admin_token's 1001 was a current server refusing our admin
      // userID, unless that route was missing too (a wrong OPENIM_API_URL path).
      if (!(error instanceof OpenImError) || !isUnknownRoute(error)) throw error
      if (isUnknownRoute(currentRefusal)) {
        throw new OpenImError('bad_response', currentRefusal.path,
          'OpenIM knows neither /auth/get_admin_token nor /auth/user_token: check OPENIM_API_URL', { httpStatus: 404 })
      }
      throw currentRefusal
    }
  }

  /** In auto mode a 404 on a route we rely on means OpenIM was replaced by another generation: detect again. */
  private forgetGenerationOnUnknownRoute (error: unknown) {
    if (error instanceof OpenImError && isUnknownRoute(error)) this.forgetGeneration()
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

const { current, legacy } = dialects

// Refusals of the admin credentials: wrong secret (1002), not the admin userID (1001), or no such user
// (1101 up to v3.8.2, 1004 from v3.8.3): never the caller's "user not found".
const ADMIN_REFUSALS = new Set<number | undefined>([ErrCode.NoPermission, ErrCode.Args, ErrCode.UserIDNotFound, ErrCode.RecordNotFound])

function authFailure (path: string, cause: OpenImError): OpenImError {
  return new OpenImError('auth_failed', path,
    `OpenIM refused the admin credentials (errCode ${cause.errCode}): check OPENIM_SECRET and OPENIM_ADMIN_USER_ID`,
    cause.details)
}
