import { isIP } from 'node:net'
import { parse as parseDuration } from '@lukeed/ms'
import Type from 'typebox'
import { commaList, fail, positiveInt } from './shared.js'

// What bounds the work one caller can cause (what replicas share is src/config/redis.ts).
export const LimitsEnv = Type.Object({
  RATE_LIMIT_MAX: positiveInt(1, 1_000_000, 60,
    'Requests per caller per window, `/provision`, `/revoke` and `GET`/`PATCH /users/{userID}` together ' +
    '(imports: `IMPORT_RATE_LIMIT_MAX`)'),
  RATE_LIMIT_WINDOW: Type.String({
    minLength: 1,
    default: '1 minute',
    description: 'The window, 1 s – 24 h: `30s`, `5 minutes`, `1.5 hours`, `1 day`, or milliseconds, read as `@fastify/rate-limit` ' +
      'reads durations'
  }),
  AUTH_FAILURE_LIMIT_MAX: positiveInt(0, 1_000_000, 30,
    'Failed authentications (401) one client address may cause per window before it gets 429; `0` turns the limit off'),
  AUTH_FAILURE_LIMIT_WINDOW: Type.String({
    minLength: 1,
    default: '1 minute',
    description: 'That window, written like `RATE_LIMIT_WINDOW` (1 s – 24 h)'
  }),
  TRUST_PROXY: Type.String({
    minLength: 1,
    default: 'false',
    description: 'Whose `X-Forwarded-For` is believed: `true` (anyone), a hop count (the last N hops are proxies: `1` behind one proxy), ' +
      'or comma-separated proxy addresses/CIDRs'
  }),
  BODY_LIMIT_BYTES: positiveInt(1024, 10 * 1024 * 1024, 64 * 1024,
    'Larger request bodies get 413 (1 KiB – 10 MiB; `/users/import` has `IMPORT_BODY_LIMIT_BYTES`)'),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: positiveInt(0, 60_000, 1000, 'Above this event-loop delay requests get 503 `OVERLOADED` (0 disables)')
})

export interface LimitsSettings {
  rateLimit: { max: number, windowMs: number }
  /** Failed authentications (401) one client address may cause per window before it gets 429; max 0: no limit. */
  authFailureLimit: { max: number, windowMs: number }
  /** Fastify's trustProxy: false, true, the addresses/CIDRs of trusted proxies, or a hop count as a trust function. */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean)
  bodyLimitBytes: number
  /** Above this event-loop delay requests get 503 OVERLOADED; 0 disables the check. */
  overloadMaxEventLoopDelayMs: number
}

/** "1 minute", "30s", "500 ms", or a bare number of milliseconds: @fastify/rate-limit's own duration parser. */
function parseWindow (value: string, variable: string): number {
  const ms = parseDuration(value.trim()) ?? Number.NaN
  if (!(ms >= 1000 && ms <= 86_400_000)) {
    fail(`${variable} must be between 1 second and 24 hours, e.g. "1 minute", "30s" or 5000 (milliseconds)`)
  }
  return Math.round(ms)
}

function parseTrustProxy (value: string): LimitsSettings['trustProxy'] {
  if (value === 'true' || value === 'false') return value === 'true'
  if (/^\d+$/.test(value)) {
    // Fastify 5.12 turned a numeric trustProxy into "trust nothing" (it cannot tell the proxy from a client that
    // connects directly), so a hop count would silently give every client the proxy's address. Here it keeps its
    // documented meaning, the last N hops are proxies, which is sound where only the proxy can reach the port
    // (docs/operators/replicas.md says to make sure of that); addresses/CIDRs are the stricter choice.
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  const entries = commaList(value)
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/')
    if (rest.length > 0 || isIP(address ?? '') === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      fail(`TRUST_PROXY must be true, false, a hop count, or comma-separated proxy addresses/CIDRs ("${entry}" is none of these)`)
    }
  }
  return entries
}

export function limitsSettings (env: Type.Static<typeof LimitsEnv>): LimitsSettings {
  return {
    rateLimit: { max: env.RATE_LIMIT_MAX, windowMs: parseWindow(env.RATE_LIMIT_WINDOW, 'RATE_LIMIT_WINDOW') },
    authFailureLimit: {
      max: env.AUTH_FAILURE_LIMIT_MAX,
      windowMs: parseWindow(env.AUTH_FAILURE_LIMIT_WINDOW, 'AUTH_FAILURE_LIMIT_WINDOW')
    },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    overloadMaxEventLoopDelayMs: env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS
  }
}
