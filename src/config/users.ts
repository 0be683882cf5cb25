import Type from 'typebox'
import { fail, positiveInt } from './shared.js'

// What services may do to users in bulk: how large one import is, how often a caller may send one, and how
// long one may take.
export const UsersEnv = Type.Object({
  IMPORT_MAX_USERS: positiveInt(1, 5000, 1000, 'Users in one `POST /users/import`; more is 400 `INVALID_REQUEST`'),
  IMPORT_MAX_CONCURRENT: positiveInt(1, 64, 4,
    'Imports running at once in each replica; one more is 503 `OVERLOADED` with `Retry-After: 1`, decided before its body is read ' +
    '(the import CLI waits it out like a 429). `IMPORT_MAX_CONCURRENT` × `IMPORT_BODY_LIMIT_BYTES` may not exceed 32 MiB (33554432): ' +
    '8 at the default body limit'),
  // A full batch of ordinary rows (a few hundred bytes each) fits many times over; 1,000 rows of the largest
  // values /provision accepts would not, and would rather be sent in smaller batches.
  IMPORT_BODY_LIMIT_BYTES: positiveInt(64 * 1024, 16 * 1024 * 1024, 4 * 1024 * 1024,
    'Body limit of `/users/import` only (64 KiB – 16 MiB; 4 MiB holds 1,000 users of ~4 KB each). An import\'s body is held in ' +
    'memory, and at most `IMPORT_MAX_CONCURRENT` imports are read at once per replica'),
  IMPORT_RATE_LIMIT_MAX: positiveInt(1, 1_000_000, 120, 'Imports per caller per `RATE_LIMIT_WINDOW`, a budget apart from `/provision`\'s'),
  IMPORT_DEADLINE_MS: positiveInt(1000, 600_000, 30_000,
    'Longest one import spends on OpenIM (1 s – 10 min); users still waiting then fail with `DEADLINE_EXCEEDED`')
})

export interface UsersSettings {
  import: {
    /** Users in one POST /users/import; more is 400. */
    maxUsers: number
    /** Imports running at once on this replica; more are 503 OVERLOADED before their body is read. */
    maxConcurrent: number
    bodyLimitBytes: number
    /** Imports per caller per RATE_LIMIT_WINDOW, counted apart from /provision's budget. */
    rateLimitMax: number
    /** How long one import may spend on OpenIM before the rest of its users are answered as failed. */
    deadlineMs: number
  }
}

/**
 * Import bodies one replica may hold at once. Measured on a 128 MB heap (`npm start`): 32 MiB of bodies in
 * flight peaked at 195–200 MB RSS, 64 MiB at 268 MB, past the Deployment's 256 Mi; with no cap at all, 40
 * imports of 4 MiB ran out of heap and took every request on the replica down with them.
 */
export const IMPORT_BYTES_IN_FLIGHT_MAX = 32 * 1024 * 1024

export function usersSettings (env: Type.Static<typeof UsersEnv>): UsersSettings {
  if (env.IMPORT_MAX_CONCURRENT * env.IMPORT_BODY_LIMIT_BYTES > IMPORT_BYTES_IN_FLIGHT_MAX) {
    fail(`IMPORT_MAX_CONCURRENT (${env.IMPORT_MAX_CONCURRENT}) × IMPORT_BODY_LIMIT_BYTES (${env.IMPORT_BODY_LIMIT_BYTES}) ` +
      `must be at most ${IMPORT_BYTES_IN_FLIGHT_MAX} (32 MiB of import bodies held at once); lower one of them`)
  }
  return {
    import: {
      maxUsers: env.IMPORT_MAX_USERS,
      maxConcurrent: env.IMPORT_MAX_CONCURRENT,
      bodyLimitBytes: env.IMPORT_BODY_LIMIT_BYTES,
      rateLimitMax: env.IMPORT_RATE_LIMIT_MAX,
      deadlineMs: env.IMPORT_DEADLINE_MS
    }
  }
}
