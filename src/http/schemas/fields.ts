import Type from 'typebox'
import { CONTROLS, NICKNAME_PATTERN } from '../../provisioning/profile-rules.js'

// The fields several schemas share, each written once.
export const PLATFORMS = 'OpenIM platform: 1 iOS, 2 Android, 3 Windows, 4 OSX, 5 Web, 6 MiniWeb, 7 Linux, 8 AndroidPad, 9 iPad. ' +
  '10 (Admin) is refused.'
export const USER_ID_RULES = 'The OpenIM userID, without ":". A user the call registers must follow OpenIM\'s rule for new IDs ' +
  '(from v3.8.0 only letters, digits and "_"); an existing user keeps whatever ID OpenIM holds.'
export const NICKNAME_RULES = 'No control characters, no bidirectional-text controls, not only white space.'

export const platformId = (description: string) => Type.Integer({ minimum: 1, maximum: 9, description, examples: [5] })
export const userId = (description: string) => Type.String({ minLength: 1, maxLength: 64, description, examples: ['alice_42'] })

export const PlatformID = platformId(PLATFORMS)
export const UserID = userId(USER_ID_RULES)

// An avatar is fetched by every client: http(s) only, never javascript: or data:. The nickname rule lives with
// the provisioning flow, which also applies it to the default nickname.
const FACE_URL_PATTERN = `^https?://[^\\s${CONTROLS}]+$`
const CLEARABLE_FACE_URL_PATTERN = `^(https?://[^\\s${CONTROLS}]+)?$`

/** What a schema's pattern means, for validation messages (ajv only says which pattern failed). */
export const PATTERN_MEANINGS: Record<string, string> = {
  [NICKNAME_PATTERN]: 'must not contain control characters or bidirectional-text controls, nor be only white space',
  [FACE_URL_PATTERN]: 'must be an http:// or https:// URL',
  [CLEARABLE_FACE_URL_PATTERN]: 'must be an http:// or https:// URL, or "" to clear it'
}

export const nickname = (description: string) =>
  Type.String({ minLength: 1, maxLength: 255, pattern: NICKNAME_PATTERN, description, examples: ['Alice'] })
export const faceURL = (description: string) =>
  Type.String({ maxLength: 2048, pattern: FACE_URL_PATTERN, description, examples: ['https://example.com/alice.png'] })

export const Nickname = nickname(`Display name. ${NICKNAME_RULES}`)
export const FaceURL = faceURL('Avatar URL: http or https only.')
export const ClearableFaceURL = Type.String({
  maxLength: 2048, pattern: CLEARABLE_FACE_URL_PATTERN, description: 'Avatar URL (http or https), or "" to clear it.'
})
export const Ex = Type.String({
  maxLength: 8192, description: 'Free-form extra data (often JSON), at most 8192 characters.', examples: ['{"team":"blue"}']
})
