import { createRemoteJWKSet } from 'jose'
import { callerAuthConfigured, type AuthConfig } from '../../config/index.js'
import { OpenImDiagnostics } from '../../openim/diagnostics.js'
import type { OpenImError } from '../../openim/errors.js'
import type { Check } from '../context.js'
import { displayUrl } from '../report.js'
import { redis } from './redis.js'

/**
 * 7a. Who may call the gateway: reported, never fatal. None configured is a warning, not a failure: the doctor
 * needs only OpenIM's settings, and `OPENIM_API_URL=… OPENIM_SECRET=… npm run doctor` checks OpenIM alone.
 */
export const callerAuth: Check = {
  id: 'gateway.caller_auth',
  title: 'Caller authentication',
  async run (ctx) {
    const { auth } = ctx.config
    if (auth.disabled) {
      return {
        status: 'warn',
        summary: 'AUTH_DISABLED=true: anyone who reaches the gateway can get any user\'s OpenIM token',
        hint: 'set GATEWAY_API_KEYS and/or one of JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET, and remove AUTH_DISABLED outside ' +
          'local development'
      }
    }
    if (!callerAuthConfigured(auth)) {
      return {
        status: 'warn',
        summary: 'none configured here: only OpenIM was checked, and the gateway refuses to start without it',
        hint: 'before starting the gateway, set GATEWAY_API_KEYS and/or one of JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET ' +
          '(AUTH_DISABLED=true for local development only)'
      }
    }
    return { status: 'pass', summary: describeCallers(auth) }
  }
}

function describeCallers (auth: AuthConfig): string {
  const parts: string[] = []
  if (auth.apiKeys.length > 0) parts.push(`API keys for ${auth.apiKeys.map((entry) => entry.name).join(', ')}`)
  const jwt = auth.jwt
  if (jwt !== undefined) {
    const source = jwt.source.kind === 'jwks'
      ? `the key set at ${displayUrl(jwt.source.url)}`
      : jwt.source.kind === 'publicKey' ? 'JWT_PUBLIC_KEY' : 'JWT_SECRET (HS256)'
    parts.push(`end-user JWTs checked with ${source}`)
  }
  return parts.join('; ')
}

const KEY_TYPES: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' }

/** 7c. JWT_JWKS_URL is fetchable and holds keys for JWT_ALGORITHMS, fetched the way the gateway fetches it. */
export const jwks: Check = {
  id: 'gateway.jwks',
  title: 'JWT key set',
  async run (ctx) {
    const jwt = ctx.config.auth.jwt
    if (jwt?.source.kind !== 'jwks') return { status: 'skip', summary: 'JWT_JWKS_URL unset' }
    const where = displayUrl(jwt.source.url)
    const keySet = createRemoteJWKSet(new URL(jwt.source.url), { timeoutDuration: ctx.timeoutMs })
    try {
      await keySet.reload()
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code
      return {
        status: 'fail',
        summary: `${where}: ${(error as Error).message}${cause === undefined ? '' : ` (${cause})`}`,
        hint: 'JWT_JWKS_URL must be your identity provider\'s key set (…/.well-known/jwks.json), reachable from here'
      }
    }
    const keys = keySet.jwks()?.keys ?? []
    const types = new Set(keys.map((key) => key.kty))
    const usable = jwt.algorithms.some((algorithm) => types.has(KEY_TYPES[algorithm.slice(0, 2)] ?? ''))
    const summary = `${where}: ${keys.length} key${keys.length === 1 ? '' : 's'} (${[...types].join(', ') || 'none'})`
    if (keys.length === 0) {
      return { status: 'fail', summary, hint: 'the key set is empty: JWT_JWKS_URL must be the set that signs your users\' tokens' }
    }
    if (!usable) {
      const hint = `no key fits JWT_ALGORITHMS (${jwt.algorithms.join(',')}): set it to what your identity provider signs with`
      return { status: 'fail', summary, hint }
    }
    return { status: 'pass', summary, facts: { keys: keys.length, keyTypes: [...types], kids: keys.map((key) => key.kid ?? null) } }
  }
}

/** 7d. The addresses handed to clients answer from here: a warning only, as clients may see other addresses. */
export const publicApi: Check = {
  id: 'openim.public_api',
  title: 'OPENIM_PUBLIC_API_URL',
  async run (ctx) {
    const url = ctx.config.publicApiUrl
    if (url === undefined) return { status: 'skip', summary: 'unset: /provision answers carry no apiAddr' }
    const diagnostics = new OpenImDiagnostics(url, ctx.timeoutMs)
    try {
      const answer = await diagnostics.post('/auth/parse_token', { token: '' }, ctx.callContext())
      if (answer.outcome.ok || answer.outcome.error.kind === 'rejected') {
        return { status: 'pass', summary: `${displayUrl(url)} answers as OpenIM from here` }
      }
      const summary = `${displayUrl(url)}: ${answer.outcome.error.message} instead of OpenIM`
      return { status: 'warn', summary, hint: PUBLIC_HINT('OPENIM_PUBLIC_API_URL') }
    } catch (error) {
      const summary = `${displayUrl(url)}: ${(error as OpenImError).message}`
      return { status: 'warn', summary, hint: PUBLIC_HINT('OPENIM_PUBLIC_API_URL') }
    } finally {
      await diagnostics.close()
    }
  }
}

export const publicWs: Check = {
  id: 'openim.public_ws',
  title: 'OPENIM_PUBLIC_WS_URL',
  async run (ctx) {
    const url = ctx.config.publicWsUrl
    if (url === undefined) return { status: 'skip', summary: 'unset: /provision answers carry no wsAddr' }
    const diagnostics = new OpenImDiagnostics(url, ctx.timeoutMs)
    try {
      const { httpStatus } = await diagnostics.reach(url)
      return { status: 'pass', summary: `${displayUrl(url)} answers HTTP from here (${httpStatus} to a request without a login)` }
    } catch (error) {
      const message = (error as OpenImError).message.replace('OpenIM', 'the websocket gateway')
      return { status: 'warn', summary: `${displayUrl(url)}: ${message}`, hint: PUBLIC_HINT('OPENIM_PUBLIC_WS_URL') }
    } finally {
      await diagnostics.close()
    }
  }
}

const PUBLIC_HINT = (variable: string) =>
  `${variable} is handed to clients as is: if they reach OpenIM at another address than this host does, ignore this; ` +
  `otherwise fix ${variable}`

export const surroundingChecks = [callerAuth, redis, jwks, publicApi, publicWs]
