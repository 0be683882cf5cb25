import Type from 'typebox'
import { fail, positiveInt } from './shared.js'

// How the gateway treats the sessions its tokens stand for: whether a live token is handed out again instead
// of minting (which kicks the user's earlier token on OpenIM v3.8.1+), and how many it remembers per replica.
export const SessionEnv = Type.Object({
  TOKEN_REUSE: Type.String({
    default: 'auto',
    description: '`auto`: a provision hands out the live token it handed out before, on OpenIM v3.8.1+ only; `true`: on every version ' +
      '(risky before v3.8, see [Sessions](../guides/sessions.md)); `false`: every provision mints (and on v3.8.1+ logs the platform\'s ' +
      'earlier token out)'
  }),
  // At least a minute; at most a century, as for token lifetimes (src/openim/token-answers.ts).
  TOKEN_REUSE_MIN_REMAINING_SECONDS: Type.Optional(Type.Integer({
    minimum: 60,
    maximum: 100 * 365 * 86_400,
    description: 'Default: the smaller of 7 days and half the token\'s lifetime. A remembered token is handed out again only with at ' +
      'least this long left (1 minute – 100 years); otherwise a new one is minted'
  })),
  TOKEN_CACHE_MAX_ENTRIES: positiveInt(1, 10_000_000, 100_000,
    'Tokens remembered in each replica\'s memory, the least recently used forgotten first: without Redis, all of them; with ' +
    'Redis, a copy of those this replica handed out or read, used while Redis cannot answer (390 bytes each: 37 MB at 100,000)')
})

export interface SessionSettings {
  session: {
    /** 'auto': on for OpenIM v3.8.1+ (the current API generation) only. */
    tokenReuse: 'auto' | 'on' | 'off'
    /**
     * A remembered token is handed out again only with at least this much left; undefined: the smaller of
     * 7 days and half the token's lifetime.
     */
    minRemainingSeconds?: number
    /** Remembered tokens kept in this replica's memory (without Redis, or while Redis is unavailable). */
    cacheMaxEntries: number
  }
}

function tokenReuse (value: string): SessionSettings['session']['tokenReuse'] {
  if (value === 'auto') return 'auto'
  if (value === 'true') return 'on'
  if (value === 'false') return 'off'
  return fail(`TOKEN_REUSE must be auto (on for OpenIM v3.8.1+ only), true or false, not "${value.slice(0, 20)}"`)
}

export function sessionSettings (env: Type.Static<typeof SessionEnv>): SessionSettings {
  return {
    session: {
      tokenReuse: tokenReuse(env.TOKEN_REUSE.trim()),
      minRemainingSeconds: env.TOKEN_REUSE_MIN_REMAINING_SECONDS,
      cacheMaxEntries: env.TOKEN_CACHE_MAX_ENTRIES
    }
  }
}
