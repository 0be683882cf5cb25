import { decodeJwt, type JWTPayload } from 'jose'
import type { RawAnswer } from '../../openim/diagnostics.js'
import type { Check } from '../context.js'

// Above a few seconds of skew, something on one side is not synchronised; above a minute, callers' JWTs
// (checked with this host's clock) and the expiry the gateway reports are visibly wrong.
const SKEW_WARNING_SECONDS = 5
const SKEW_FAILURE_SECONDS = 60
const DAY_SECONDS = 86_400
const IAT_BACKDATE_WITHOUT_NBF_SECONDS = 5

/** 5a. How long OpenIM's tokens live, from the admin token just minted. */
export const tokenLifetime: Check = {
  id: 'openim.token_lifetime',
  title: 'Token lifetime',
  needs: ['openim.admin'],
  async run (ctx) {
    const { token, expireTimeSeconds } = ctx.adminToken!
    const claims = claimsOf(token)
    if (claims === undefined) {
      return { status: 'fail', summary: 'OpenIM\'s admin token is not a JWT', hint: 'not a gateway setting: please report it with --json' }
    }
    return {
      status: 'pass',
      summary: `${describeDuration(expireTimeSeconds)} (OpenIM's tokenPolicy.expire; the gateway reports expiresAt from it)`,
      facts: { expireTimeSeconds, iat: claims.iat ?? null, exp: claims.exp ?? null }
    }
  }
}

/** 5b. This host's clock against OpenIM's, from the Date header of every answer (and the admin token's iat). */
export const clock: Check = {
  id: 'openim.clock',
  title: 'Clock skew',
  needs: ['openim.reachable'],
  async run (ctx) {
    const skew = skewFromDates(ctx.answers)
    const fromToken = ctx.adminToken === undefined ? undefined : skewFromToken(ctx.adminToken.token, ctx.detection!.adminMint)
    if (skew === undefined) return { status: 'skip', summary: 'OpenIM\'s answers carry no Date header' }
    const seconds = skew.skewMs / 1000
    const facts = {
      skewSeconds: round(seconds),
      precisionSeconds: round(skew.precisionMs / 1000),
      fromTokenIatSeconds: fromToken === undefined ? null : round(fromToken / 1000)
    }
    const summary = `OpenIM's clock is ${describeSkew(seconds)} (±${round(skew.precisionMs / 1000)} s, from its Date header)`
    const magnitude = Math.abs(seconds)
    if (magnitude <= SKEW_WARNING_SECONDS) return { status: 'pass', summary, facts }
    return {
      status: magnitude > SKEW_FAILURE_SECONDS ? 'fail' : 'warn',
      summary,
      hint: 'turn on time synchronisation (NTP: chrony, systemd-timesyncd) on this host and on OpenIM\'s: the gateway reports ' +
        'expiresAt and checks callers\' JWT times with this host\'s clock',
      facts
    }
  }
}

/**
 * The skew s (OpenIM's clock minus this host's) consistent with every answer: the server stamped its Date,
 * to the whole second, at some moment between sending and receiving, so D ≤ t + s < D + 1 s there.
 * Intersecting those intervals over several answers narrows it well below a second.
 */
export function skewFromDates (answers: RawAnswer[]): { skewMs: number, precisionMs: number } | undefined {
  const dated = answers.filter((answer) => answer.date !== undefined && !Number.isNaN(Date.parse(answer.date)))
  if (dated.length === 0) return undefined
  let low = -Infinity
  let high = Infinity
  for (const answer of dated) {
    const date = Date.parse(answer.date!)
    low = Math.max(low, date - answer.receivedAt)
    high = Math.min(high, date + 1000 - answer.sentAt)
  }
  if (low > high) {
    // Answers from servers whose clocks differ (replicas behind a proxy): fall back to the last answer.
    const last = dated[dated.length - 1]!
    low = Date.parse(last.date!) - last.receivedAt
    high = Date.parse(last.date!) + 1000 - last.sentAt
  }
  return { skewMs: (low + high) / 2, precisionMs: (high - low) / 2 }
}

/**
 * The same from the token's iat, as its claims say it was set (tools tokenverify.BuildClaims): with an `nbf`
 * (= now − 5 min, up to v3.8.2), iat is the mint's moment; without one (v3.8.3+), iat is back-dated 5 s. The
 * claims tell, where the release cannot: the doctor sees v3.8.1 to v3.8.3 as one.
 */
export function skewFromToken (token: string, mint: Pick<RawAnswer, 'sentAt' | 'receivedAt'>): number | undefined {
  const claims = claimsOf(token)
  if (claims?.iat === undefined) return undefined
  const backdateSeconds = claims.nbf === undefined ? IAT_BACKDATE_WITHOUT_NBF_SECONDS : 0
  const stamped = (claims.iat + backdateSeconds) * 1000
  return ((stamped - mint.receivedAt) + (stamped + 1000 - mint.sentAt)) / 2
}

function claimsOf (token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token)
  } catch {
    return undefined
  }
}

function describeSkew (seconds: number): string {
  if (Math.abs(seconds) < 0.05) return 'in step with this host\'s'
  return `${round(Math.abs(seconds))} s ${seconds > 0 ? 'ahead of' : 'behind'} this host's`
}

function describeDuration (seconds: number): string {
  if (seconds % DAY_SECONDS === 0) return `${seconds / DAY_SECONDS} day${seconds === DAY_SECONDS ? '' : 's'}`
  return `${round(seconds / 3600)} h`
}

const round = (value: number) => Math.round(value * 10) / 10

export const clockChecks = [tokenLifetime, clock]
