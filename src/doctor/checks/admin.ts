import { OpenImClient } from '../../openim/client.js'
import { RELEASES, adminRefusal, type AdminRefusal } from '../../openim/detection.js'
import { OpenImError } from '../../openim/errors.js'
import { ACCOUNT_STATUS, ADMIN_PLATFORM_ID, parseAccountStatus, type TokenData } from '../../openim/generations.js'
import { OpenImTransport } from '../../openim/transport.js'
import { describeRefusal, failureOf, unexpected, type Check, type DoctorContext } from '../context.js'
import type { Outcome } from '../report.js'
import { PROBE_USER_ID } from './write.js'

const SECRET_HINT = 'OPENIM_SECRET does not match `secret` in OpenIM\'s share.yml / IMENV_SHARE_SECRET'
const ADMIN_HINT = 'OPENIM_ADMIN_USER_ID is not in `imAdminUserID` (OpenIM\'s share.yml; `imAdmin` by default since v3.7, ' +
  '`openIMAdmin` on v3.0 – v3.5)'

const REFUSALS: Record<AdminRefusal, { summary: (adminUserID: string) => string, hint: string }> = {
  secret: { summary: () => 'OpenIM refused the secret', hint: SECRET_HINT },
  admin_not_listed: { summary: (id) => `OpenIM refused "${id}" as its admin`, hint: ADMIN_HINT },
  admin_missing: { summary: (id) => `"${id}" is not an OpenIM user`, hint: ADMIN_HINT },
  other: {
    summary: () => 'OpenIM refused the admin token',
    hint: 'not a gateway setting: OpenIM\'s own logs tell why (an internal service down?)'
  }
}

/** 3. The secret and the admin account: an admin token is minted, and the gateway's own client works with it. */
export const adminCredentials: Check = {
  id: 'openim.admin',
  title: 'Secret and admin account',
  needs: ['openim.generation'],
  async run (ctx) {
    const { release, adminMint } = ctx.detection!
    const { adminUserID } = ctx.config.openim
    const error = failureOf(adminMint)
    if (error?.kind === 'rejected') {
      const refusal = REFUSALS[adminRefusal(release, error)]
      return { status: 'fail', summary: `${refusal.summary(adminUserID)} (${describeRefusal(error)})`, hint: refusal.hint }
    }
    const data = adminMint.outcome.ok ? adminMint.outcome.data as Partial<TokenData> | undefined : undefined
    if (typeof data?.token !== 'string' || typeof data.expireTimeSeconds !== 'number') {
      return unexpected('minting the admin token', adminMint)
    }
    if (data.expireTimeSeconds <= 0) {
      return {
        status: 'fail',
        summary: `OpenIM mints tokens with a lifetime of ${data.expireTimeSeconds} s: they expire at once`,
        hint: 'not a gateway setting: set tokenPolicy.expire (days) in OpenIM\'s openim-rpc-auth.yml'
      }
    }
    ctx.adminToken = { token: data.token, expireTimeSeconds: data.expireTimeSeconds }
    const readiness = await gatewayReadiness(ctx)
    if (readiness !== undefined) return readiness
    const outcome: Outcome = {
      status: 'pass',
      summary: `admin token minted for "${adminUserID}"; the gateway's own client works with it (/readyz: ready)`
    }
    if (ctx.config.usesDefaultSecret) {
      return {
        ...outcome,
        status: 'warn',
        hint: 'OPENIM_SECRET is one of the defaults OpenIM ships with: anyone who knows OpenIM can mint tokens on this server; ' +
          'set a new secret in OpenIM (share.yml / IMENV_SHARE_SECRET) and in OPENIM_SECRET'
      }
    }
    return outcome
  }
}

/** The gateway's client, configured as the gateway configures it, doing what /readyz does. */
async function gatewayReadiness (ctx: DoctorContext): Promise<Outcome | undefined> {
  const { openim } = ctx.config
  const transport = new OpenImTransport({
    baseUrl: openim.apiUrl,
    timeoutMs: openim.timeoutMs,
    connections: 1,
    pipelining: 1,
    keepAliveTimeoutMs: openim.pool.keepAliveTimeoutMs,
    maxPendingCalls: openim.pool.maxPendingCalls
  })
  const client = new OpenImClient({
    transport,
    secret: openim.secret,
    adminUserID: openim.adminUserID,
    apiMode: openim.apiMode,
    adminTokenTtlMs: openim.adminTokenTtlMs
  })
  try {
    await client.checkReady(ctx.callContext())
    return undefined
  } catch (error) {
    if (!(error instanceof OpenImError)) throw error
    // Up to v3.8.0 /auth/user_token mints for any existing user, so a wrong admin userID shows only here.
    if (error.kind === 'rejected' && error.errCode === 1002) {
      return {
        status: 'fail',
        summary: `"${openim.adminUserID}" got a token but is not an admin: account_check refuses it (${describeRefusal(error)})`,
        hint: ADMIN_HINT
      }
    }
    return {
      status: 'fail',
      summary: `the gateway's client fails: ${describeRefusal(error)}`,
      hint: 'please report this with --json: the doctor\'s own calls worked'
    }
  } finally {
    await client.close()
  }
}

/** 4. account_check and parse_token answer in the shapes this generation should have. */
export const shapes: Check = {
  id: 'openim.shapes',
  title: 'account_check and parse_token',
  needs: ['openim.admin'],
  async run (ctx) {
    const generation = RELEASES[ctx.release].generation
    const { adminUserID } = ctx.config.openim
    const problems: string[] = []
    const surprises: string[] = []
    const userIDs = [adminUserID, PROBE_USER_ID]
    const check = await ctx.post('/user/account_check', { checkUserIDs: userIDs }, ctx.adminToken!.token)
    if (!check.outcome.ok) return unexpected('account_check', check)
    const results = (check.outcome.data as { results?: unknown } | undefined)?.results
    if (!Array.isArray(results) || results.length !== userIDs.length) {
      problems.push('account_check answered without one result per userID')
    } else {
      results.forEach((result: { userID?: unknown, accountStatus?: unknown }, index) => {
        if (result?.userID !== userIDs[index]) {
          problems.push(`account_check answered userIDs out of order or renamed (${String(result?.userID)})`)
        }
        if (parseAccountStatus(result?.accountStatus) === undefined) {
          problems.push(`account_check answered accountStatus ${JSON.stringify(result?.accountStatus)}`)
        }
        const expected = Object.values(ACCOUNT_STATUS[generation])
        if (parseAccountStatus(result?.accountStatus) !== undefined && !expected.includes(result.accountStatus)) {
          const spelling = JSON.stringify(expected)
          surprises.push(`accountStatus ${JSON.stringify(result.accountStatus)}, not the ${generation} spelling ${spelling}`)
        }
      })
    }
    const parsed = await ctx.post('/auth/parse_token', { token: ctx.adminToken!.token })
    if (!parsed.outcome.ok) return unexpected('parse_token of the admin token', parsed)
    const claims = parsed.outcome.data as
      { userID?: unknown, platformID?: unknown, platform?: unknown, expireTimeSeconds?: unknown } | undefined
    if (claims?.userID !== adminUserID) problems.push(`parse_token answered userID ${JSON.stringify(claims?.userID)} for the admin token`)
    // v3.0 – v3.6 name the platform ("Admin") instead of numbering it.
    if (claims?.platformID !== ADMIN_PLATFORM_ID && !(generation === 'legacy' && typeof claims?.platform === 'string')) {
      problems.push('parse_token answered no platformID 10 for the admin token')
    }
    if (typeof claims?.expireTimeSeconds !== 'number' || claims.expireTimeSeconds < Date.now() / 1000) {
      surprises.push('parse_token\'s expireTimeSeconds is not an absolute time in the future')
    }
    const facts = { accountCheck: results ?? null, parseToken: claims === undefined ? null : { ...claims } }
    if (problems.length > 0) {
      return {
        status: 'fail',
        summary: problems.join('; '),
        hint: 'not a gateway setting: every /provision would fail with OPENIM_BAD_RESPONSE; please report this with --json',
        facts
      }
    }
    if (surprises.length > 0) {
      const hint = `unexpected for ${RELEASES[ctx.release].label} (the gateway copes): please report it with --json`
      return { status: 'warn', summary: surprises.join('; '), hint, facts }
    }
    const spelling = JSON.stringify(Object.values(ACCOUNT_STATUS[generation]))
    return { status: 'pass', summary: `both answer as ${RELEASES[ctx.release].label} should (accountStatus ${spelling})`, facts }
  }
}

export const adminChecks = [adminCredentials, shapes]
