import { createHash } from 'node:crypto'

// Profile values everyone in the chat sees. A nickname must show what it is: well-formed Unicode, no control
// characters, no bidirectional-text controls (which can make "nimda" read as "admin"), and at least one letter,
// number, punctuation mark or symbol that draws something: not only White_Space, Default_Ignorable_Code_Point,
// characters that draw nothing (braille blank, the Hangul fillers), combining marks with nothing to sit on, or
// format controls (such as the Egyptian hieroglyph ones, U+13430–U+1343F). The schema's pattern spells the blank
// classes out rather than using Unicode property escapes: OpenAPI tools read patterns without the regex "u" flag,
// where those escapes mean something else. It cannot list every mark and format control, nor (with "u", as ajv and
// TypeBox read it) name supplementary-plane blanks, so it is a looser reading for tools: the `nickname` format,
// which the gateway's validators run beside the pattern, applies the rule exactly.
export const CONTROLS = '\\u0000-\\u001F\\u007F-\\u009F'
const BIDI_CONTROLS = '\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069\\u2028\\u2029'
const BLANK_LOOKING = '\\u2800\\u3164\\u115F\\u1160\\uFFA0'
// Default_Ignorable_Code_Point in the Basic Multilingual Plane, with other format characters that draw nothing.
const INVISIBLE = '\\u00AD\\u034F\\u0600-\\u0605\\u061C\\u06DD\\u070F\\u0890\\u0891\\u08E2\\u115F\\u1160\\u17B4\\u17B5' +
  '\\u180B-\\u180F\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u206F\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0\\uFFF0-\\uFFFB'
// A surrogate pair, but not one of the supplementary-plane Default_Ignorable_Code_Points (read without "u").
const VISIBLE_PAIR = '(?!\\uD82F[\\uDCA0-\\uDCA3]|\\uD834[\\uDD73-\\uDD7A]|[\\uDB40-\\uDB43][\\uDC00-\\uDFFF])' +
  '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]'
/** One character of well-formed text: no lone UTF-16 surrogate (as text, the same with and without "u"). */
export const WELL_FORMED_CHAR = '[^\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]'
export const NICKNAME_PATTERN = `^(?=[\\s\\S]*?(?:[^\\s${INVISIBLE}${BLANK_LOOKING}\\uD800-\\uDFFF]|${VISIBLE_PAIR}))` +
  `(?:[^${CONTROLS}${BIDI_CONTROLS}\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])+$`
/** The format name under which the gateway's validators apply isNickname. */
export const NICKNAME_FORMAT = 'nickname'

const forbidden = new RegExp(`[${CONTROLS}${BIDI_CONTROLS}]`, 'u')
// A letter, number, punctuation mark or symbol, but not one that draws nothing (the Hangul fillers are letters,
// U+2800 a symbol). The class lists combining and ignorable characters on purpose; built by a function, so the
// linter's rule against misleading classes (which reads literal patterns) does not take them for a typo.
const drawnCharacter = () => `(?![\\p{White_Space}\\p{Default_Ignorable_Code_Point}${INVISIBLE}${BLANK_LOOKING}])` +
  '[\\p{L}\\p{N}\\p{P}\\p{S}]'
const showsSomething = new RegExp(drawnCharacter(), 'u')

/** The nickname rule, exactly (any length: the schemas bound it). */
export function isNickname (value: string): boolean {
  return value.isWellFormed() && !forbidden.test(value) && showsSomething.test(value)
}

/**
 * The nickname a new user gets when none is given: its userID, unless the userID breaks the nickname rule
 * (OpenIM up to v3.7 registers IDs such as "\u202Enimda_x", which would display as "x_admin"); then a neutral
 * `user_` + the first 12 hex digits of the userID's SHA-256, the same on every replica and every retry.
 */
export function defaultNickname (userID: string): string {
  // A userID has 1–64 characters, within a nickname's 1–255: only the rule's characters can refuse it.
  if (isNickname(userID)) return userID
  return `user_${createHash('sha256').update(userID).digest('hex').slice(0, 12)}`
}
