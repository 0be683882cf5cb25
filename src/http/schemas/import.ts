import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { IMPORT_FAILURE_CODES, type ImportFailureCode, type ImportStatus } from '../../provisioning/import.js'
import { componentRef } from './component.js'
import { Ex, FaceURL, Nickname } from './fields.js'

// POST /users/import. Per-user values are checked one user at a time (a bad nickname fails that user, not the
// batch), so the batch schema only fixes the shape; importValueProblem applies the rules. Values four times
// past a rule are no honest mistake: they refuse the batch, so a few huge strings are neither kept nor echoed
// in the answer.
const hardLimit = (rule: number) => 4 * rule

export const ImportUser = Type.Object({
  userID: Type.String({
    maxLength: hardLimit(64),
    description: 'The userID to create; checked against the connected OpenIM\'s rules only if it does not exist yet. ' +
      'Over 256 characters refuses the batch.',
    examples: ['alice_42']
  }),
  nickname: Type.Optional(Type.String({
    maxLength: hardLimit(255),
    description: 'Defaults to the userID (to user_ and 12 hex digits when the userID breaks these rules). Checked as PATCH checks it: ' +
      '1–255 characters, not only white space, no control characters or bidi overrides. Over 1020 characters refuses the batch.'
  })),
  faceURL: Type.Optional(Type.String({
    maxLength: hardLimit(2048), description: 'An http(s) URL of at most 2048 characters. Over 8192 refuses the batch.'
  })),
  ex: Type.Optional(Type.String({
    maxLength: hardLimit(8192), description: 'Free-form extra data, at most 8192 characters. Over 32768 refuses the batch.'
  }))
}, { additionalProperties: false, $id: 'ImportUser', title: 'ImportUser' })

/** The batch, as large as IMPORT_MAX_USERS allows. */
export const importRequest = (maxUsers: number) => Type.Object({
  users: Type.Array(componentRef(ImportUser), { minItems: 1, maxItems: maxUsers, description: `1–${maxUsers} users (IMPORT_MAX_USERS).` })
}, {
  additionalProperties: false,
  $id: 'ImportRequest',
  title: 'ImportRequest',
  examples: [{
    users: [{ userID: 'alice_42', nickname: 'Alice' }, { userID: 'bob_7', faceURL: 'https://example.com/bob.png' }, { userID: 'imAdmin' }]
  }]
})

export const ImportResult = Type.Object({
  userID: Type.String(),
  status: Type.Unsafe<ImportStatus>({ type: 'string', enum: ['created', 'existing', 'failed'] }),
  code: Type.Optional(Type.Unsafe<ImportFailureCode>({
    type: 'string',
    enum: [...IMPORT_FAILURE_CODES],
    description: 'Why the user failed. Fix the row: INVALID_USER_ID, INVALID_PROFILE, RESERVED_USER_ID, DUPLICATE_IN_BATCH. ' +
      'Retry (a re-run skips users that now exist): the OPENIM_* codes and DEADLINE_EXCEEDED.'
  })),
  message: Type.Optional(Type.String())
}, { $id: 'ImportResult', title: 'ImportResult' })

export const ImportResponse = Type.Object({
  results: Type.Array(componentRef(ImportResult), { description: 'One entry per user sent, in the order sent.' }),
  created: Type.Integer({ description: 'Users this request registered.' }),
  existing: Type.Integer({ description: 'Users OpenIM already had (left unchanged).' }),
  failed: Type.Integer()
}, {
  $id: 'ImportResponse',
  title: 'ImportResponse',
  examples: [{
    results: [
      { userID: 'alice_42', status: 'created' },
      { userID: 'bob_7', status: 'existing' },
      { userID: 'imAdmin', status: 'failed', code: 'RESERVED_USER_ID', message: 'this userID is reserved for OpenIM\'s own accounts' }
    ],
    created: 1,
    existing: 1,
    failed: 1
  }]
})

const importValueRules = [
  {
    field: 'nickname',
    check: Compile(Nickname),
    rule: '1–255 characters, not only white space, without control characters or bidi overrides'
  },
  { field: 'faceURL', check: Compile(FaceURL), rule: 'an http(s) URL of at most 2048 characters' },
  { field: 'ex', check: Compile(Ex), rule: 'at most 8192 characters' }
] as const

/** What is wrong with one imported user's nickname, faceURL or ex (the rules PATCH applies), or undefined. */
export function importValueProblem (user: { nickname?: string, faceURL?: string, ex?: string }): string | undefined {
  for (const { field, check, rule } of importValueRules) {
    const value = user[field]
    if (value !== undefined && !check.Check(value)) return `${field} must be ${rule}`
  }
  return undefined
}
