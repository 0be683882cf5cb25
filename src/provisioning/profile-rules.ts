import { createHash } from 'node:crypto'

// Profile values everyone in the chat sees. A nickname must show what it is: no control characters, no
// bidirectional-text controls (which can make "nimda" read as "admin"), not only white space or invisible
// format characters. The classes are spelt out (C0/C1 controls; the format characters of the Basic
// Multilingual Plane) rather than written as Unicode property escapes: OpenAPI tools read patterns without
// the regex "u" flag, where those escapes mean something else.
export const CONTROLS = '\\u0000-\\u001F\\u007F-\\u009F'
const BIDI_CONTROLS = '\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069\\u2028\\u2029'
const INVISIBLE = '\\u00AD\\u0600-\\u0605\\u061C\\u06DD\\u070F\\u0890\\u0891\\u08E2\\u180E\\u200B-\\u200F' +
  '\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF\\uFFF9-\\uFFFB'
export const NICKNAME_PATTERN = `^(?=[\\s\\S]*[^\\s${INVISIBLE}])[^${CONTROLS}${BIDI_CONTROLS}]+$`

const nicknamePattern = new RegExp(NICKNAME_PATTERN, 'u')

/**
 * The nickname a new user gets when none is given: its userID, unless the userID breaks the nickname rule
 * (OpenIM up to v3.7 registers IDs such as "\u202Enimda_x", which would display as "x_admin"); then a neutral
 * `user_` + the first 12 hex digits of the userID's SHA-256, the same on every replica and every retry.
 */
export function defaultNickname (userID: string): string {
  // A userID has 1–64 characters, within a nickname's 1–255: only the pattern can refuse it.
  if (nicknamePattern.test(userID)) return userID
  return `user_${createHash('sha256').update(userID).digest('hex').slice(0, 12)}`
}
