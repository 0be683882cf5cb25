import Type from 'typebox'
import { Format } from 'typebox/format'
import { CONTROLS, NICKNAME_FORMAT, NICKNAME_PATTERN, WELL_FORMED_CHAR, isNickname } from '../../provisioning/profile-rules.js'

// The fields several schemas share, each written once.
export const PLATFORMS = 'OpenIM platform: 1 iOS, 2 Android, 3 Windows, 4 OSX, 5 Web, 6 MiniWeb, 7 Linux, 8 AndroidPad, 9 iPad. ' +
  '10 (Admin) is refused.'
export const USER_ID_RULES = 'The OpenIM userID, without ":". A user the call registers must follow OpenIM\'s rule for new IDs ' +
  '(from v3.8.0 only letters, digits and "_"); an existing user keeps whatever ID OpenIM holds.'
export const NICKNAME_RULES = 'Well-formed Unicode; no control characters, no bidirectional-text controls; at least one letter, ' +
  'number, punctuation mark or symbol, so not only blanks (white space, default-ignorable characters, U+2800, U+3164, U+115F, ' +
  'U+1160, U+FFA0), combining marks or format controls. The pattern is a looser reading for tools; the `nickname` format is exact.'

/** Formats the gateway's validators (ajv for routes, TypeBox for imports and token claims) check beside the patterns. */
export const FORMATS: Record<string, (value: string) => boolean> = { [NICKNAME_FORMAT]: isNickname }
for (const [name, check] of Object.entries(FORMATS)) Format.Set(name, check)

export const platformId = (description: string) => Type.Integer({ minimum: 1, maximum: 9, description, examples: [5] })
export const userId = (description: string) => Type.String({ minLength: 1, maxLength: 64, description, examples: ['alice_42'] })

export const PlatformID = platformId(PLATFORMS)
export const UserID = userId(USER_ID_RULES)

// An avatar is fetched by every client: http(s) only, never javascript: or data:. The nickname rule lives with
// the provisioning flow, which also applies it to the default nickname. Every string is well-formed Unicode: a
// lone UTF-16 surrogate (a JSON "\ud800" escape without its pair) would reach OpenIM as U+FFFD, so two values
// the gateway tells apart would be one to OpenIM.
const FACE_URL_PATTERN = `^https?://(?:[^\\s${CONTROLS}\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])+$`
const CLEARABLE_FACE_URL_PATTERN = `^(https?://(?:[^\\s${CONTROLS}\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])+)?$`
const WELL_FORMED_PATTERN = `^(?:${WELL_FORMED_CHAR})*$`
const WELL_FORMED = 'well-formed Unicode (no lone UTF-16 surrogate, such as a \\ud800 escape without its pair)'

const NICKNAME_MEANING = 'must not contain control characters or bidirectional-text controls, must contain a letter, number, ' +
  'punctuation mark or symbol (not be only white space or other blanks: default-ignorable characters, U+2800, U+3164, U+115F, ' +
  `U+1160, U+FFA0, combining marks, format controls), and must be ${WELL_FORMED}`

/** What a schema's pattern or format means, for validation messages (ajv only says which one failed). */
export const PATTERN_MEANINGS: Record<string, string> = {
  [NICKNAME_PATTERN]: NICKNAME_MEANING,
  [NICKNAME_FORMAT]: NICKNAME_MEANING,
  [FACE_URL_PATTERN]: `must be an http:// or https:// URL, in ${WELL_FORMED}`,
  [CLEARABLE_FACE_URL_PATTERN]: `must be an http:// or https:// URL, or "" to clear it (in ${WELL_FORMED})`,
  [WELL_FORMED_PATTERN]: `must be ${WELL_FORMED}`
}

export const nickname = (description: string) =>
  Type.String({ minLength: 1, maxLength: 255, pattern: NICKNAME_PATTERN, format: NICKNAME_FORMAT, description, examples: ['Alice'] })
export const faceURL = (description: string) =>
  Type.String({ maxLength: 2048, pattern: FACE_URL_PATTERN, description, examples: ['https://example.com/alice.png'] })

export const Nickname = nickname(`Display name. ${NICKNAME_RULES}`)
export const FaceURL = faceURL('Avatar URL: http or https only.')
export const ClearableFaceURL = Type.String({
  maxLength: 2048, pattern: CLEARABLE_FACE_URL_PATTERN, description: 'Avatar URL (http or https), or "" to clear it.'
})
/** Free-form extra data, without an example (Swagger UI would pre-fill it). */
export const ex = (description: string) => Type.String({ maxLength: 8192, pattern: WELL_FORMED_PATTERN, description })
export const Ex = Type.String({
  maxLength: 8192,
  pattern: WELL_FORMED_PATTERN,
  description: 'Free-form extra data (often JSON), at most 8192 characters of well-formed Unicode.',
  examples: ['{"team":"blue"}']
})
