import { setTimeout as sleep } from 'node:timers/promises'
import { RELEASES } from '../../openim/detection.js'
import type { RawAnswer } from '../../openim/diagnostics.js'
import { ErrCode } from '../../openim/errors.js'
import { dialects, parseAccountStatus, userIdProblem, type TokenData } from '../../openim/generations.js'
import { describeRefusal, failureOf, unexpected, type Check, type DoctorContext } from '../context.js'
import type { Outcome } from '../report.js'

// Fixed probe users: OpenIM cannot delete users, so every run reuses them and creates nothing new.
export const PROBE_USER_ID = 'gwdoctor_probe'
export const DASHED_PROBE_USER_ID = 'gwdoctor-probe'
const PROBE_NICKNAME = 'openim-gateway doctor probe'
const PROBE_PLATFORM_ID = 5 // Web
const TOKEN_KICKED = 1506

export const WRITE_NOTICE = `--write registers the probe users ${PROBE_USER_ID} (and ${DASHED_PROBE_USER_ID} where OpenIM allows "-") ` +
  'if they are missing. OpenIM cannot delete users: they stay, and later runs reuse them.'

/** Without --write: one line saying what it would do. */
export const writeSkipped: Check = {
  id: 'write',
  title: 'Write probes',
  async run () {
    const summary = `not run: pass --write to test kick-on-mint, logout and the userID rule with the probe user ${PROBE_USER_ID}`
    return { status: 'skip', summary }
  }
}

/** 6a. The probe user exists (registered now, or by an earlier run). */
export const probeUser: Check = {
  id: 'write.probe_user',
  title: 'Probe user',
  needs: ['openim.admin'],
  async run (ctx) {
    const existing = await registered(ctx, PROBE_USER_ID)
    if (existing === undefined) return { status: 'fail', summary: 'account_check did not answer for the probe user' }
    if (existing) return { status: 'pass', summary: `${PROBE_USER_ID} exists from an earlier run: nothing created` }
    const answer = await register(ctx, PROBE_USER_ID)
    if (!answer.outcome.ok && failureOf(answer)?.errCode !== ErrCode.RegisteredAlready) {
      return unexpected(`registering ${PROBE_USER_ID}`, answer)
    }
    ctx.created.push(PROBE_USER_ID)
    return { status: 'pass', summary: `${PROBE_USER_ID} registered now (it stays: OpenIM cannot delete users; later runs reuse it)` }
  }
}

/** 6b. Mint twice a second apart and parse the first: does a new token kick the earlier one? */
export const kickOnMint: Check = {
  id: 'write.kick_on_mint',
  title: 'Kick on mint',
  needs: ['write.probe_user'],
  async run (ctx) {
    const first = await mint(ctx)
    if (typeof first !== 'string') return first
    let second: string | Outcome = first
    // Tokens carry whole seconds and no jti: two mints within one second are the same string.
    for (let attempt = 0; attempt < 3 && second === first; attempt += 1) {
      await sleep(1100)
      second = await mint(ctx)
      if (typeof second !== 'string') return second
    }
    if (second === first) {
      return { status: 'fail', summary: 'three mints over three seconds returned the same token', hint: 'please report this with --json' }
    }
    ctx.probeTokens = [first, second]
    const kicked = await parsesAsKicked(ctx, first)
    if (typeof kicked !== 'boolean') return kicked
    const expected = RELEASES[ctx.release].mintKicks
    return verdict(ctx, kicked === expected, { kicksOnMint: kicked }, kicked
      ? {
          summary: 'yes: a new token for a user and platform kicks the earlier one (1506)',
          notes: ['two /provision calls for one user and platform log out whoever holds the first token']
        }
      : { summary: 'no: earlier tokens stay valid when a new one is minted' })
  }
}

/** 6c. force_logout, then parse the second token: does logout invalidate tokens, or only connections? */
export const logout: Check = {
  id: 'write.logout',
  title: 'Logout invalidates tokens',
  needs: ['write.kick_on_mint'],
  async run (ctx) {
    const answer = await ctx.post('/auth/force_logout', { platformID: PROBE_PLATFORM_ID, userID: PROBE_USER_ID }, ctx.adminToken!.token)
    if (!answer.outcome.ok) return unexpected('force_logout', answer)
    const kicked = await parsesAsKicked(ctx, ctx.probeTokens![1])
    if (typeof kicked !== 'boolean') return kicked
    return verdict(ctx, kicked === RELEASES[ctx.release].logoutKicks, { logoutKicks: kicked }, kicked
      ? { summary: 'yes: after force_logout the token fails (1506), so /revoke ends sessions' }
      : {
          summary: 'no: force_logout drops live connections only',
          notes: ['/revoke cannot invalidate tokens here: they stay valid until they expire']
        })
  }
}

/** 6d. Does OpenIM register a userID with "-" (v3.0 – v3.7) or refuse it (v3.8+), and does the gateway agree? */
export const userIdRule: Check = {
  id: 'write.user_id_rule',
  title: 'userID rule',
  needs: ['openim.admin'],
  async run (ctx) {
    const generation = RELEASES[ctx.release].generation
    const gatewayAllows = userIdProblem(DASHED_PROBE_USER_ID, generation) === undefined
    const existing = await registered(ctx, DASHED_PROBE_USER_ID)
    let accepted: boolean
    let summary: string
    if (existing === true) {
      accepted = true
      summary = `"-" accepted: ${DASHED_PROBE_USER_ID} exists from an earlier run (nothing created)`
    } else {
      const answer = await register(ctx, DASHED_PROBE_USER_ID)
      const error = failureOf(answer)
      if (error !== undefined && error.errCode !== ErrCode.Args) return unexpected(`registering ${DASHED_PROBE_USER_ID}`, answer)
      accepted = error === undefined
      if (accepted) ctx.created.push(DASHED_PROBE_USER_ID)
      summary = accepted
        ? `"-" accepted: ${DASHED_PROBE_USER_ID} registered now (it stays)`
        : `"-" refused (${describeRefusal(error!)}): only letters, digits and "_"`
    }
    if (gatewayAllows && !accepted) {
      return {
        status: 'warn',
        summary,
        hint: 'the gateway lets such userIDs through to this OpenIM, which refuses them (OPENIM_REJECTED 1001): keep userIDs to letters, ' +
          'digits and "_" (JWT_USER_ID_MAPPING=hash maps JWT subjects), or upgrade OpenIM to v3.8.1+',
        facts: { dashAccepted: accepted, gatewayAllows }
      }
    }
    return verdict(ctx, accepted === !RELEASES[ctx.release].strictUserIds, { dashAccepted: accepted, gatewayAllows }, { summary })
  }
}

/** An observation against what the detected release should do: a surprise is worth a bug report. */
function verdict (ctx: DoctorContext, asExpected: boolean, facts: Record<string, unknown>,
  outcome: Pick<Outcome, 'summary' | 'notes'>): Outcome {
  if (asExpected) return { status: 'pass', ...outcome, facts }
  return { status: 'warn', ...outcome, hint: `unexpected for ${RELEASES[ctx.release].label}: please report it with --json`, facts }
}

async function registered (ctx: DoctorContext, userID: string): Promise<boolean | undefined> {
  const answer = await ctx.post('/user/account_check', { checkUserIDs: [userID] }, ctx.adminToken!.token)
  const data = answer.outcome.ok ? answer.outcome.data as { results?: Array<{ accountStatus?: unknown }> } | undefined : undefined
  const results = data?.results
  return parseAccountStatus(results?.[0]?.accountStatus)
}

function register (ctx: DoctorContext, userID: string): Promise<RawAnswer> {
  return ctx.send(dialects[RELEASES[ctx.release].generation].register([{ userID, nickname: PROBE_NICKNAME }], ctx.config.openim.secret))
}

async function mint (ctx: DoctorContext): Promise<string | Outcome> {
  const dialect = dialects[RELEASES[ctx.release].generation]
  const answer = await ctx.send(dialect.userToken(PROBE_USER_ID, PROBE_PLATFORM_ID, ctx.config.openim.secret))
  const data = answer.outcome.ok ? answer.outcome.data as Partial<TokenData> | undefined : undefined
  return typeof data?.token === 'string' ? data.token : unexpected(`minting a token for ${PROBE_USER_ID}`, answer)
}

/** parse_token: false when the token is valid, true when it was kicked (1506). */
async function parsesAsKicked (ctx: DoctorContext, token: string): Promise<boolean | Outcome> {
  const answer = await ctx.post('/auth/parse_token', { token })
  if (answer.outcome.ok) return false
  if (failureOf(answer)?.errCode === TOKEN_KICKED) return true
  return unexpected('parse_token of a probe token', answer)
}

export const writeChecks = [probeUser, kickOnMint, logout, userIdRule]
