import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { IMPORT_FAILURE_CODES, type ImportFailureCode, type ImportStatus } from '../provisioning/import.js'
import { ClearableFaceURL, Ex, FaceURL, Nickname, UserID } from './schemas.js'

// The /users routes' schemas. Each is registered once by its $id (app.ts) so the OpenAPI document names it,
// and routes refer to it with a typed $ref.

/** A typed reference to a schema registered under its $id. */
function named<T extends Type.TSchema> (schema: T, id: string) {
  return { schema: { ...schema, $id: id, title: id } as T, ref: Type.Unsafe<Type.Static<T>>(Type.Ref(id)) }
}

export const UserIDParams = Type.Object({
  userID: Type.String({ minLength: 1, maxLength: 64, description: 'The OpenIM userID, as OpenIM stores it (URL-encoded).', examples: ['alice_42'] })
})

const userProfile = Type.Object({
  userID: UserID,
  nickname: Type.String({ examples: ['Alice'] }),
  faceURL: Type.String({ description: 'Empty when the user has none.', examples: ['https://example.com/alice.png'] }),
  ex: Type.String({ description: 'Empty when the user has none.', examples: ['{"team":"blue"}'] }),
  createTime: Type.String({ format: 'date-time', description: 'When OpenIM registered the user (ISO 8601).', examples: ['2026-11-25T09:30:00.000Z'] })
}, { examples: [{ userID: 'alice_42', nickname: 'Alice', faceURL: 'https://example.com/alice.png', ex: '', createTime: '2026-11-25T09:30:00.000Z' }] })
export const UserProfile = named(userProfile, 'UserProfile')

const updateUserRequest = Type.Object({
  nickname: Type.Optional(Nickname),
  faceURL: Type.Optional(ClearableFaceURL),
  ex: Type.Optional(Ex)
}, { additionalProperties: false, minProperties: 1, examples: [{ nickname: 'Alice B.', faceURL: '' }] })
export const UpdateUserRequest = named(updateUserRequest, 'UpdateUserRequest')

// Per-user values are checked one user at a time (a bad nickname fails that user, not the batch), so the
// batch schema only fixes the shape; importValueProblem applies the rules. Values four times past a rule are
// no honest mistake: they refuse the batch, so a few huge strings are neither kept nor echoed in the answer.
const hardLimit = (rule: number) => 4 * rule
const importUser = Type.Object({
  userID: Type.String({ maxLength: hardLimit(64), description: 'The userID to create; checked against the connected OpenIM\'s rules only if it does not exist yet. Over 256 characters refuses the batch.', examples: ['alice_42'] }),
  nickname: Type.Optional(Type.String({ maxLength: hardLimit(255), description: 'Defaults to the userID (to user_ and 12 hex digits when the userID breaks these rules). Checked as PATCH checks it: 1–255 characters, not only white space, no control characters or bidi overrides. Over 1020 characters refuses the batch.' })),
  faceURL: Type.Optional(Type.String({ maxLength: hardLimit(2048), description: 'An http(s) URL of at most 2048 characters. Over 8192 refuses the batch.' })),
  ex: Type.Optional(Type.String({ maxLength: hardLimit(8192), description: 'Free-form extra data, at most 8192 characters. Over 32768 refuses the batch.' }))
}, { additionalProperties: false })
export const ImportUser = named(importUser, 'ImportUser')

export const importRequest = (maxUsers: number) => named(Type.Object({
  users: Type.Array(ImportUser.ref, { minItems: 1, maxItems: maxUsers, description: `1–${maxUsers} users (IMPORT_MAX_USERS).` })
}, {
  additionalProperties: false,
  examples: [{ users: [{ userID: 'alice_42', nickname: 'Alice' }, { userID: 'bob_7', faceURL: 'https://example.com/bob.png' }, { userID: 'imAdmin' }] }]
}), 'ImportRequest')

const importResult = Type.Object({
  userID: Type.String(),
  status: Type.Unsafe<ImportStatus>({ type: 'string', enum: ['created', 'existing', 'failed'] }),
  code: Type.Optional(Type.Unsafe<ImportFailureCode>({
    type: 'string',
    enum: [...IMPORT_FAILURE_CODES],
    description: 'Why the user failed. Fix the row: INVALID_USER_ID, INVALID_PROFILE, RESERVED_USER_ID, DUPLICATE_IN_BATCH. ' +
      'Retry (a re-run skips users that now exist): the OPENIM_* codes and DEADLINE_EXCEEDED.'
  })),
  message: Type.Optional(Type.String())
})
export const ImportResult = named(importResult, 'ImportResult')

const importResponse = Type.Object({
  results: Type.Array(ImportResult.ref, { description: 'One entry per user sent, in the order sent.' }),
  created: Type.Integer({ description: 'Users this request registered.' }),
  existing: Type.Integer({ description: 'Users OpenIM already had (left unchanged).' }),
  failed: Type.Integer()
}, {
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
export const ImportResponse = named(importResponse, 'ImportResponse')

/** Every named schema of the /users routes, for app.addSchema. */
export const userSchemas = (maxUsers: number) =>
  [UserProfile, UpdateUserRequest, ImportUser, importRequest(maxUsers), ImportResult, ImportResponse].map(({ schema }) => schema)

const importValueRules = [
  { field: 'nickname', check: Compile(Nickname), rule: '1–255 characters, not only white space, without control characters or bidi overrides' },
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
