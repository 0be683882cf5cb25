import { runDoctor } from '../doctor/run.js'
import type { OpenImClient } from '../openim/client.js'
import { RELEASES, type Release } from '../openim/detection.js'
import { OpenImError } from '../openim/errors.js'
import type { GatewayUnderTest } from './gateway.js'
import type { E2eSettings } from './settings.js'

/** What a check found wrong: its message is the `FAIL <id>: <reason>` line's reason. */
export class CheckFailed extends Error {}

/** What the checks share: the gateway, OpenIM seen directly (its own client), and what earlier checks left. */
export interface E2eContext {
  settings: E2eSettings
  gateway: GatewayUnderTest
  openim: OpenImClient
  /** The release OpenIM answers as, found before the first check. */
  release?: Release
  /** This run's users: `${E2E_USER_PREFIX}${runId}_…`, new on every run (OpenIM cannot delete users). */
  userID: (name: string) => string
  /** The first provision's answer. */
  provisioned?: { token: string }
}

export interface E2eCheck {
  id: string
  /** Checks whose failure leaves this one without what it needs: it fails too, naming them. */
  needs?: string[]
  run (ctx: E2eContext): Promise<void>
}

const PLATFORM_ID = 5 // Web

/** A call to the gateway with its API key: status and JSON body (bounded by E2E_TIMEOUT_MS). */
async function gateway (ctx: E2eContext, method: string, path: string, body?: unknown) {
  const response = await fetch(ctx.gateway.url + path, {
    method,
    headers: { 'x-api-key': ctx.gateway.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ctx.settings.E2E_TIMEOUT_MS)
  })
  const text = await response.text()
  let json: Record<string, any> | undefined
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.status, json }
}

/** Fails unless the gateway answered `expected`, saying what it answered instead. */
function expectStatus (what: string, answer: { status: number, json?: Record<string, any> }, ...expected: number[]) {
  if (expected.includes(answer.status)) return
  const error = answer.json?.code === undefined ? '' : ` ${String(answer.json.code)}: ${String(answer.json.message)}`
  const hint = answer.json?.code === 'OPENIM_AUTH_FAILED'
    ? ' (OpenIM refused the secret or the admin userID the gateway uses: check its OPENIM_SECRET and OPENIM_ADMIN_USER_ID)'
    : ''
  throw new CheckFailed(`${what} answered HTTP ${answer.status}${error}${hint}`)
}

/** OpenIM's verdict on a token: its owner, or the errCode it refuses it with. */
async function parse (ctx: E2eContext, token: string): Promise<{ userID: string, platformID: number } | { errCode: number | undefined }> {
  try {
    return await ctx.openim.parseToken(token, { operationID: `e2e-parse-${Date.now()}` })
  } catch (error) {
    if (error instanceof OpenImError && error.kind === 'rejected') return { errCode: error.errCode }
    throw error
  }
}

const op = (id: string) => ({ operationID: `gwe2e-${id}-${Date.now()}` })

export const provision: E2eCheck = {
  id: 'provision',
  async run (ctx) {
    const userID = ctx.userID('a')
    const answer = await gateway(ctx, 'POST', '/provision', { userID, platformID: PLATFORM_ID, nickname: 'gateway e2e' })
    expectStatus('POST /provision for a new user', answer, 201)
    const token = answer.json?.token
    if (typeof token !== 'string') throw new CheckFailed('POST /provision answered no token')
    ctx.provisioned = { token }
    const registered = await ctx.openim.accountCheck([userID], op('provision'))
    if (registered.get(userID) !== true) throw new CheckFailed(`OpenIM's account_check says ${userID} is not registered`)
    const parsed = await parse(ctx, token)
    if ('errCode' in parsed) throw new CheckFailed(`OpenIM refuses the token it was just given (parse_token: errCode ${parsed.errCode})`)
    if (parsed.userID !== userID || parsed.platformID !== PLATFORM_ID) {
      throw new CheckFailed(`the token parses for ${parsed.userID} on platform ${parsed.platformID}, not ${userID} on ${PLATFORM_ID}`)
    }
  }
}

export const reuse: E2eCheck = {
  id: 'reuse',
  needs: ['provision'],
  async run (ctx) {
    const first = ctx.provisioned!.token
    const answer = await gateway(ctx, 'POST', '/provision', { userID: ctx.userID('a'), platformID: PLATFORM_ID })
    expectStatus('POST /provision again', answer, 200)
    const reused = answer.json?.reused === true && answer.json?.token === first
    // From v3.8.1 a new token kicks the earlier one, so the gateway must hand the live one out again; up to v3.8.0
    // (TOKEN_REUSE=auto leaves reuse off there) minting again logs nobody out.
    if (!reused && RELEASES[ctx.release!].mintKicks) {
      const what = answer.json?.token === first ? 'marked the same token reused: false' : 'minted a new token'
      throw new CheckFailed(`a second provision ${what}: ` +
        `on ${RELEASES[ctx.release!].label} that logs out whoever holds the first (is TOKEN_REUSE false?)`)
    }
    const parsed = await parse(ctx, first)
    if ('errCode' in parsed) throw new CheckFailed(`the first token no longer parses (errCode ${parsed.errCode}): it was logged out`)
  }
}

export const revoke: E2eCheck = {
  id: 'revoke',
  needs: ['provision'],
  async run (ctx) {
    const userID = ctx.userID('a')
    const token = ctx.provisioned!.token
    const answer = await gateway(ctx, 'POST', '/revoke', { userID, platformID: PLATFORM_ID })
    expectStatus('POST /revoke', answer, 200)
    const parsed = await parse(ctx, token)
    const invalidates = RELEASES[ctx.release!].logoutKicks
    if (invalidates && !('errCode' in parsed && parsed.errCode === TOKEN_KICKED)) {
      throw new CheckFailed(`on ${RELEASES[ctx.release!].label} the revoked token must fail with 1506, but parse_token ` +
        `${'errCode' in parsed ? `answered errCode ${parsed.errCode}` : 'still accepts it'}`)
    }
    // Up to v3.7 force_logout only drops connections: the token stays valid until it expires.
    if (!invalidates && 'errCode' in parsed) {
      throw new CheckFailed(`parse_token refuses the revoked token (errCode ${parsed.errCode}) on a release that keeps it`)
    }
    const again = await gateway(ctx, 'POST', '/provision', { userID, platformID: PLATFORM_ID })
    expectStatus('POST /provision after the revoke', again, 200)
    if (again.json?.reused !== false) throw new CheckFailed('the gateway handed out the revoked token again')
  }
}

const TOKEN_KICKED = 1506

export const importUsers: E2eCheck = {
  id: 'import',
  async run (ctx) {
    const users = [{ userID: ctx.userID('b') }, { userID: ctx.userID('c'), nickname: 'gateway e2e import' }]
    const first = await gateway(ctx, 'POST', '/users/import', { users })
    expectStatus('POST /users/import', first, 200)
    if (first.json?.created !== 2) throw new CheckFailed(`the import created ${String(first.json?.created)} of 2 new users`)
    const registered = await ctx.openim.accountCheck(users.map((user) => user.userID), op('import'))
    if ([...registered.values()].some((known) => !known)) throw new CheckFailed('OpenIM does not know every imported user')
    const rerun = await gateway(ctx, 'POST', '/users/import', { users })
    expectStatus('POST /users/import again', rerun, 200)
    if (rerun.json?.existing !== 2 || rerun.json?.created !== 0) {
      const counts = `${String(rerun.json?.created)} created, ${String(rerun.json?.existing)} existing`
      throw new CheckFailed(`a re-run answered ${counts} (expected 0 and 2)`)
    }
  }
}

export const profile: E2eCheck = {
  id: 'profile',
  needs: ['provision'],
  async run (ctx) {
    const userID = ctx.userID('a')
    const nickname = `gateway e2e ${Date.now().toString(36)}`
    const answer = await gateway(ctx, 'PATCH', `/users/${userID}`, { nickname, ex: '{"e2e":true}' })
    expectStatus('PATCH /users/{userID}', answer, 200)
    const seen = await ctx.openim.userInfo(userID, op('profile'))
    if (seen?.nickname !== nickname || seen.ex !== '{"e2e":true}') {
      const shown = `nickname ${JSON.stringify(seen?.nickname)}, ex ${JSON.stringify(seen?.ex)}`
      throw new CheckFailed(`OpenIM's get_users_info shows ${shown} after the change`)
    }
  }
}

export const lookup: E2eCheck = {
  id: 'lookup',
  needs: ['provision'],
  async run (ctx) {
    const userID = ctx.userID('a')
    const answer = await gateway(ctx, 'GET', `/users/${userID}`)
    expectStatus('GET /users/{userID}', answer, 200)
    const seen = await ctx.openim.userInfo(userID, op('lookup'))
    if (answer.json?.userID !== userID || answer.json?.nickname !== seen?.nickname) {
      const held = JSON.stringify(seen?.nickname)
      throw new CheckFailed(`GET /users/{userID} answered ${JSON.stringify(answer.json)}, OpenIM holds nickname ${held}`)
    }
    const missing = await gateway(ctx, 'GET', `/users/${ctx.userID('nobody')}`)
    expectStatus('GET /users/{userID} for a user OpenIM does not have', missing, 404)
    if (missing.json?.code !== 'USER_NOT_FOUND') {
      throw new CheckFailed(`an unknown user answered ${String(missing.json?.code)}, not USER_NOT_FOUND`)
    }
  }
}

export const doctor: E2eCheck = {
  id: 'doctor',
  async run (ctx) {
    const { OPENIM_API_URL, OPENIM_SECRET, OPENIM_ADMIN_USER_ID } = ctx.settings
    const report = await runDoctor({ env: { OPENIM_API_URL, OPENIM_SECRET, OPENIM_ADMIN_USER_ID }, write: true })
    const failing = report.checks.filter((check) => check.status === 'fail')
    if (failing.length > 0) {
      throw new CheckFailed(`npm run doctor -- --write fails: ${failing.map((check) => `${check.id} (${check.summary})`).join('; ')}`)
    }
  }
}

/** In this order: `provision` first, so that a refused secret fails it, saying so. */
export const E2E_CHECKS: E2eCheck[] = [provision, reuse, revoke, importUsers, profile, lookup, doctor]
