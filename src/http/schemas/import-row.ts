import { Compile } from 'typebox/compile'
import { MAX_USER_ID_LENGTH, basicUserIdProblem } from '../../openim/generations.js'
import { Ex, FaceURL, Nickname } from './fields.js'

// The rules one imported user follows, written once. The gateway applies them to each user of a batch (one that
// breaks a rule fails alone, and its value is not repeated in the answer); the import CLI applies the same rules to
// each row before sending it. Importing this module loads no more than TypeBox and these rules.

const maxLength = (schema: object) => (schema as { maxLength: number }).maxLength

/** The longest each field of an imported user may be, in characters. */
export const IMPORT_ROW_LIMITS = {
  userID: MAX_USER_ID_LENGTH,
  nickname: maxLength(Nickname),
  faceURL: maxLength(FaceURL),
  ex: maxLength(Ex)
}

const TOO_LONG = `userID must be at most ${MAX_USER_ID_LENGTH} characters`

const importValueRules = [
  {
    field: 'nickname',
    check: Compile(Nickname),
    rule: `1–${IMPORT_ROW_LIMITS.nickname} characters of well-formed Unicode with a letter, number, punctuation mark or symbol ` +
      '(not only blanks or marks), without control characters or bidi overrides'
  },
  {
    field: 'faceURL',
    check: Compile(FaceURL),
    rule: `an http(s) URL of at most ${IMPORT_ROW_LIMITS.faceURL} characters of well-formed Unicode`
  },
  { field: 'ex', check: Compile(Ex), rule: `at most ${IMPORT_ROW_LIMITS.ex} characters of well-formed Unicode` }
] as const

/** What is wrong with one imported user's nickname, faceURL or ex (the rules PATCH applies), or undefined. */
export function importValueProblem (user: { nickname?: string, faceURL?: string, ex?: string }): string | undefined {
  for (const { field, check, rule } of importValueRules) {
    const value = user[field]
    if (value !== undefined && !check.Check(value)) return `${field} must be ${rule}`
  }
  return undefined
}

/**
 * What makes one user fail whichever OpenIM it goes to, as the gateway answers it: a userID no OpenIM version holds
 * (INVALID_USER_ID) or a value breaking its rule (INVALID_PROFILE). Reserved IDs and a connected OpenIM's rule for
 * new IDs are the gateway's to judge.
 */
export function importRowProblem (user: { userID: string, nickname?: string, faceURL?: string, ex?: string }):
  { code: 'INVALID_USER_ID' | 'INVALID_PROFILE', message: string } | undefined {
  // More than twice as many UTF-16 units are surely too many characters: a long string is not spread to count them.
  const idProblem = user.userID.length > 2 * IMPORT_ROW_LIMITS.userID ? TOO_LONG : basicUserIdProblem(user.userID)
  if (idProblem !== undefined) return { code: 'INVALID_USER_ID', message: idProblem }
  const valueProblem = importValueProblem(user)
  if (valueProblem !== undefined) return { code: 'INVALID_PROFILE', message: valueProblem }
  return undefined
}
