import Type from 'typebox'
import { IMPORT_FAILURE_CODES, type ImportFailureCode, type ImportStatus } from '../../provisioning/import.js'
import { componentRef } from './component.js'
import { IMPORT_ROW_LIMITS } from './import-row.js'

// POST /users/import. The batch schema fixes only the shape: each user is checked on its own (import-row.ts), so a
// value breaking its rule, however long, fails that user and never the batch. What bounds a request is its number of
// users (IMPORT_MAX_USERS) and its size (IMPORT_BODY_LIMIT_BYTES).
const { userID: USER_ID_MAX, nickname: NICKNAME_MAX, faceURL: FACE_URL_MAX, ex: EX_MAX } = IMPORT_ROW_LIMITS

export const ImportUser = Type.Object({
  userID: Type.String({
    description: 'The userID to create; checked against the connected OpenIM\'s rules only if it does not exist yet. ' +
      `Empty, over ${USER_ID_MAX} characters or with ":" fails this user (INVALID_USER_ID); a longer one is answered as "".`,
    examples: ['alice_42']
  }),
  nickname: Type.Optional(Type.String({
    description: 'Defaults to the userID (to user_ and 12 hex digits when the userID breaks these rules). Checked as PATCH checks it: ' +
      `1–${NICKNAME_MAX} characters of well-formed Unicode, not only blanks, no control characters or bidi overrides; ` +
      'otherwise this user fails (INVALID_PROFILE).'
  })),
  faceURL: Type.Optional(Type.String({
    description: `An http(s) URL of at most ${FACE_URL_MAX} characters; otherwise this user fails (INVALID_PROFILE).`
  })),
  ex: Type.Optional(Type.String({
    description: `Free-form extra data, at most ${EX_MAX} characters; more fails this user (INVALID_PROFILE).`
  }))
}, { additionalProperties: false, $id: 'ImportUser', title: 'ImportUser' })

export type ImportUser = Type.Static<typeof ImportUser>

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
  userID: Type.String({ description: 'The userID sent; "" when it is longer than any OpenIM holds (it is not repeated).' }),
  status: Type.Unsafe<ImportStatus>({ type: 'string', enum: ['created', 'existing', 'failed'] }),
  code: Type.Optional(Type.Unsafe<ImportFailureCode>({
    type: 'string',
    enum: [...IMPORT_FAILURE_CODES],
    description: 'Why the user failed. Fix the row: INVALID_USER_ID, INVALID_PROFILE, RESERVED_USER_ID, DUPLICATE_IN_BATCH ' +
      '(the message says which rule, never repeating the value). ' +
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
