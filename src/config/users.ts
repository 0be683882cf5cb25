import Type from 'typebox'
import { positiveInt } from './shared.js'

// What services may do to users in bulk: how large one import is, how often a caller may send one, and how
// long one may take.
export const UsersEnv = Type.Object({
  IMPORT_MAX_USERS: positiveInt(1, 5000, 1000),
  // A full batch of ordinary rows (a few hundred bytes each) fits many times over; 1,000 rows of the largest
  // values /provision accepts would not, and would rather be sent in smaller batches.
  IMPORT_BODY_LIMIT_BYTES: positiveInt(64 * 1024, 64 * 1024 * 1024, 4 * 1024 * 1024),
  IMPORT_RATE_LIMIT_MAX: positiveInt(1, 1_000_000, 120),
  IMPORT_DEADLINE_MS: positiveInt(1000, 600_000, 30_000)
})

export interface UsersSettings {
  import: {
    /** Users in one POST /users/import; more is 400. */
    maxUsers: number
    bodyLimitBytes: number
    /** Imports per caller per RATE_LIMIT_WINDOW, counted apart from /provision's budget. */
    rateLimitMax: number
    /** How long one import may spend on OpenIM before the rest of its users are answered as failed. */
    deadlineMs: number
  }
}

export function usersSettings (env: Type.Static<typeof UsersEnv>): UsersSettings {
  return {
    import: {
      maxUsers: env.IMPORT_MAX_USERS,
      bodyLimitBytes: env.IMPORT_BODY_LIMIT_BYTES,
      rateLimitMax: env.IMPORT_RATE_LIMIT_MAX,
      deadlineMs: env.IMPORT_DEADLINE_MS
    }
  }
}
