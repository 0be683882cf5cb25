import { RELEASES, detectRelease, type Release } from '../../openim/detection.js'
import type { RawAnswer, TlsSession } from '../../openim/diagnostics.js'
import type { OpenImError } from '../../openim/errors.js'
import { failureOf, type Check, type DoctorContext } from '../context.js'
import { displayUrl, type Outcome } from '../report.js'
import { networkHint, pathHint } from './hints.js'

const LATENCY_SAMPLES = 5
// Below this many days of validity left, the TLS line warns.
const CERTIFICATE_WARNING_DAYS = 14

/** 1. Whether anything answers at OPENIM_API_URL, how fast, over what, and whether it is a proxy's page. */
export const reachable: Check = {
  id: 'openim.reachable',
  title: 'OpenIM reachable',
  async run (ctx) {
    const durations: number[] = []
    for (let sample = 0; sample < LATENCY_SAMPLES; sample += 1) {
      let answer: RawAnswer
      try {
        // parse_token with an empty token: public on every release, no side effect, answers 1001.
        answer = await ctx.post('/auth/parse_token', { token: '' })
      } catch (error) {
        // Nothing answered: OpenImDiagnostics throws only the transport's own OpenImError.
        const failure = error as OpenImError
        return { status: 'fail', summary: `${displayUrl(ctx.config.openim.apiUrl)}: ${failure.message}`, hint: networkHint(failure) }
      }
      const refusal = notOpenIm(ctx, answer)
      if (refusal !== undefined) return refusal
      durations.push(answer.durationMs)
    }
    const sorted = [...durations].sort((a, b) => a - b)
    const p50 = sorted[Math.floor(sorted.length / 2)] as number
    const max = sorted[sorted.length - 1] as number
    const tls = ctx.diagnostics.tls
    const { text, expiresSoon } = describeTls(tls)
    return {
      status: expiresSoon ? 'warn' : 'pass',
      summary: `${LATENCY_SAMPLES} calls: p50 ${ms(p50)}, max ${ms(max)}; ${text}; no redirect`,
      hint: expiresSoon ? 'the TLS certificate at OPENIM_API_URL expires soon: renew it' : undefined,
      facts: { samples: LATENCY_SAMPLES, p50Ms: round(p50), maxMs: round(max), firstMs: round(durations[0] as number), tls: tls ?? null }
    }
  }
}

/** A redirect, a proxy's page or a server error instead of OpenIM: nothing after this can mean anything. */
function notOpenIm (ctx: DoctorContext, answer: RawAnswer): Outcome | undefined {
  const error = failureOf(answer)
  if (error === undefined || error.kind !== 'bad_response') return undefined
  const status = answer.httpStatus
  if (status >= 300 && status < 400) {
    const target = answer.location === undefined ? undefined : new URL(answer.location, ctx.config.openim.apiUrl + answer.path).toString()
    const base = target?.replace(/\/auth\/parse_token$/, '')
    return {
      status: 'fail',
      summary: `HTTP ${status} redirect${target === undefined ? '' : ` to ${displayUrl(target)}`}: the gateway does not follow redirects`,
      hint: base === undefined ? 'set OPENIM_API_URL to the address OpenIM really answers at' : `set OPENIM_API_URL to ${displayUrl(base)}`,
      facts: { httpStatus: status, location: target === undefined ? null : displayUrl(target) }
    }
  }
  if (answer.body === 'html' || status >= 500) {
    const what = answer.body === 'html'
      ? `an HTML page ("${answer.excerpt ?? ''}")`
      : `${answer.body === 'empty' ? 'an empty' : 'a'} server error`
    return {
      status: 'fail',
      summary: `${what} answered with HTTP ${status} instead of OpenIM`,
      hint: 'a proxy or another web server answers at OPENIM_API_URL: point it at OpenIM\'s REST API (port 10002), ' +
        'or fix the proxy\'s upstream',
      facts: { httpStatus: status }
    }
  }
  return undefined
}

const NOTES: Record<Release, string[]> = {
  'v3.8.1+': [
    'the gateway gets admin tokens from /auth/get_admin_token and registers and mints with them',
    'a new token for a user and platform kicks the earlier one (one session per platform)',
    'userIDs: only letters, digits and "_"'
  ],
  'v3.8.0': [
    'legacy API: /auth/user_token with the secret for admin and user tokens, register with the secret',
    'userIDs: only letters, digits and "_" (v3.8\'s rule), but the gateway checks legacy servers for ":" only'
  ],
  'v3.0-v3.7': [
    'legacy API: /auth/user_token with the secret for admin and user tokens, register with the secret',
    '/revoke only drops live connections here: tokens stay valid until they expire',
    'userIDs: anything without ":"'
  ]
}

/** 2. Which API generation and release answers, by protocol behaviour, and what that means for the gateway. */
export const generation: Check = {
  id: 'openim.generation',
  title: 'API generation',
  needs: ['openim.reachable'],
  async run (ctx) {
    const { secret, adminUserID, apiMode, apiUrl } = ctx.config.openim
    const detection = await detectRelease(ctx, secret, adminUserID)
    if (!detection.found) {
      const statuses = detection.answers.map((answer) => `${answer.path}: ${failureOf(answer)?.message ?? 'answered'}`).join('; ')
      return detection.problem === 'unknown_routes'
        ? {
            status: 'fail',
            summary: `OpenIM knows neither /auth/get_admin_token nor /auth/user_token at ${displayUrl(apiUrl)}`,
            hint: pathHint(apiUrl),
            facts: { answers: statuses }
          }
        : {
            status: 'fail',
            summary: `not OpenIM's answer (${statuses})`,
            hint: 'OPENIM_API_URL must point at OpenIM\'s REST API itself (port 10002), not another service or a proxy page'
          }
    }
    ctx.detection = detection
    const facts = RELEASES[detection.release]
    const summary = `${facts.generation} API: ${facts.label}`
    const outcome: Outcome = {
      status: 'pass', summary, notes: NOTES[detection.release], facts: { generation: facts.generation, release: detection.release }
    }
    if (apiMode !== 'auto' && apiMode !== facts.generation) {
      const hint = `OPENIM_API_MODE=${apiMode} but this server speaks the ${facts.generation} API: ` +
        `set OPENIM_API_MODE=auto (or ${facts.generation})`
      return { ...outcome, status: 'fail', hint }
    }
    if (detection.release === 'v3.8.0') {
      return {
        ...outcome,
        status: 'warn',
        hint: 'userIDs with "-", "." or "@" pass the gateway\'s check but OpenIM v3.8.0 refuses them (OPENIM_REJECTED 1001): ' +
          'upgrade OpenIM ' +
          'to v3.8.1+, or keep userIDs to letters, digits and "_" (JWT_USER_ID_MAPPING=hash maps JWT subjects)'
      }
    }
    return outcome
  }
}

/** The TLS part of the line, and whether the certificate runs out within CERTIFICATE_WARNING_DAYS. */
export function describeTls (tls: TlsSession | undefined, now = Date.now()): { text: string, expiresSoon: boolean } {
  if (tls === undefined) return { text: 'plain http', expiresSoon: false }
  const issuer = tls.issuer === undefined ? '' : ` by ${tls.issuer}`
  const validTo = tls.validTo?.slice(0, 10) ?? '?'
  return {
    text: `${tls.protocol ?? 'TLS'}, certificate for ${tls.subject ?? '?'}${issuer} valid until ${validTo}`,
    expiresSoon: tls.validTo !== undefined && Date.parse(tls.validTo) - now < CERTIFICATE_WARNING_DAYS * 86_400_000
  }
}

const round = (value: number) => Math.round(value * 10) / 10
const ms = (value: number) => `${value < 10 ? round(value) : Math.round(value)} ms`

export const connectionChecks = [reachable, generation]
