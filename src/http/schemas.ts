import Type, { type TSchema } from 'typebox'
import { CONTROLS, NICKNAME_PATTERN } from '../provisioning/profile-rules.js'

// Written once: these give request validation, the TypeScript types and the OpenAPI document. The ones with
// an $id are OpenAPI components (app.addSchema) that routes reach through componentRef.
const PLATFORMS = 'OpenIM platform: 1 iOS, 2 Android, 3 Windows, 4 OSX, 5 Web, 6 MiniWeb, 7 Linux, 8 AndroidPad, 9 iPad. 10 (Admin) is refused.'
const USER_ID_RULES = 'The OpenIM userID, without ":". A user the call registers must follow OpenIM\'s rule for new IDs ' +
  '(from v3.8.0 only letters, digits and "_"); an existing user keeps whatever ID OpenIM holds.'

const platformId = (description: string) => Type.Integer({ minimum: 1, maximum: 9, description, examples: [5] })
const userId = (description: string) => Type.String({ minLength: 1, maxLength: 64, description, examples: ['alice_42'] })

export const PlatformID = platformId(PLATFORMS)
export const UserID = userId(USER_ID_RULES)

/**
 * A $ref to a shared schema (registered with app.addSchema), typed like the schema itself: validation is the
 * same, and the OpenAPI document names the type (`#/components/schemas/<$id>`) so generated clients get it.
 */
export function componentRef<T extends TSchema> (schema: T) {
  const id = (schema as { $id?: string }).$id
  if (id === undefined) throw new Error('componentRef needs a schema with an $id')
  return Type.Unsafe<Type.Static<T>>(Type.Ref(id))
}

// An avatar is fetched by every client: http(s) only, never javascript: or data:. The nickname rule lives with
// the provisioning flow, which also applies it to the default nickname.
const FACE_URL_PATTERN = `^https?://[^\\s${CONTROLS}]+$`
const CLEARABLE_FACE_URL_PATTERN = `^(https?://[^\\s${CONTROLS}]+)?$`
const NICKNAME_RULES = 'No control characters, no bidirectional-text controls, not only white space.'

/** What a schema's pattern means, for validation messages (ajv only says which pattern failed). */
export const PATTERN_MEANINGS: Record<string, string> = {
  [NICKNAME_PATTERN]: 'must not contain control characters or bidirectional-text controls, nor be only white space',
  [FACE_URL_PATTERN]: 'must be an http:// or https:// URL',
  [CLEARABLE_FACE_URL_PATTERN]: 'must be an http:// or https:// URL, or "" to clear it'
}

const nickname = (description: string) => Type.String({ minLength: 1, maxLength: 255, pattern: NICKNAME_PATTERN, description, examples: ['Alice'] })
const faceURL = (description: string) => Type.String({ maxLength: 2048, pattern: FACE_URL_PATTERN, description, examples: ['https://example.com/alice.png'] })

export const Nickname = nickname(`Display name. ${NICKNAME_RULES}`)
export const FaceURL = faceURL('Avatar URL: http or https only.')
export const ClearableFaceURL = Type.String({ maxLength: 2048, pattern: CLEARABLE_FACE_URL_PATTERN, description: 'Avatar URL (http or https), or "" to clear it.' })

const END_USERS_IGNORED = 'Ignored for end users (their token\'s claims supply it).'

export const ProvisionRequest = Type.Object({
  userID: Type.Optional(userId(`${USER_ID_RULES} Required for API-key callers; an end user's token implies it (and a different one is 403).`)),
  platformID: PlatformID,
  nickname: Type.Optional(nickname(`Used only when the user is created; defaults to the userID (to user_ and 12 hex digits when the userID breaks these rules). ${NICKNAME_RULES} ${END_USERS_IGNORED}`)),
  faceURL: Type.Optional(faceURL(`Avatar URL (http or https), used only when the user is created. ${END_USERS_IGNORED}`)),
  ex: Type.Optional(Type.String({ maxLength: 8192, description: 'Free-form extra data, used only when the user is created. Ignored for end users.' })),
  reuse: Type.Optional(Type.Boolean({
    description: 'false: always mint a new token, which logs out the user\'s other sessions on this platform (OpenIM v3.8.1+). ' +
      'Omitted or true: a live token the gateway handed out before is returned again when OpenIM confirms it (reused: true).'
  }))
}, {
  $id: 'ProvisionRequest',
  title: 'ProvisionRequest',
  additionalProperties: false,
  // What Swagger UI pre-fills: nothing a new user would keep that the caller did not mean (no "ex": "string").
  examples: [{ userID: 'alice_42', platformID: 5, nickname: 'Alice' }]
})

export const RevokeRequest = Type.Object({
  userID: Type.Optional(userId('The user to log out. Required for API-key callers; an end user may only revoke themself.')),
  platformID: Type.Optional(platformId(`${PLATFORMS} Only this platform; every platform 1–9 when omitted.`))
}, { $id: 'RevokeRequest', title: 'RevokeRequest', additionalProperties: false, examples: [{ userID: 'alice_42', platformID: 5 }] })

export const RevokeResponse = Type.Object({
  userID: UserID,
  platformIDs: Type.Array(PlatformID, { description: 'The platforms logged out: their earlier tokens stop working (OpenIM v3.8+).' })
}, { $id: 'RevokeResponse', title: 'RevokeResponse' })

export const ProvisionResponse = Type.Object({
  userID: UserID,
  platformID: PlatformID,
  token: Type.String({ description: 'The OpenIM user token for the OpenIM SDK login.' }),
  expireTimeSeconds: Type.Integer({
    description: 'Seconds left until expiresAt when the answer was made: the token\'s whole lifetime (OpenIM\'s tokenPolicy.expire) for a new token, less for a reused one.',
    examples: [7776000]
  }),
  expiresAt: Type.String({ format: 'date-time', description: 'When the token expires (ISO 8601): for a reused token, the expiry OpenIM holds for it.' }),
  created: Type.Boolean({ description: 'Whether this call registered the user in OpenIM.' }),
  reused: Type.Boolean({
    description: 'true: a token the gateway handed out before, confirmed live by OpenIM and returned again; nothing was minted and no session was logged out. ' +
      'false: a token minted for this request (or for concurrent requests for the same user and platform, which share it).'
  }),
  apiAddr: Type.Optional(Type.String({ description: 'OpenIM REST address for the SDK (OPENIM_PUBLIC_API_URL).' })),
  wsAddr: Type.Optional(Type.String({ description: 'OpenIM websocket address for the SDK (OPENIM_PUBLIC_WS_URL).' }))
}, { $id: 'ProvisionResponse', title: 'ProvisionResponse' })

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ description: 'The HTTP status, repeated.' }),
  code: Type.String({ description: 'Stable machine-readable error code.' }),
  error: Type.String({ description: 'HTTP reason phrase.' }),
  message: Type.String({ description: 'What went wrong, for people: never a secret, a token or a stack trace.' }),
  requestId: Type.String({ description: 'The x-request-id of this request; also the operationID sent to OpenIM.' }),
  openimErrCode: Type.Optional(Type.Integer({ description: 'OPENIM_REJECTED only: OpenIM\'s errCode.' })),
  openimErrMsg: Type.Optional(Type.String({ description: 'OPENIM_REJECTED only: the name of OpenIM\'s errCode (ArgsError, NoPermissionError, …; UnknownError for others), never OpenIM\'s own errMsg text.' }))
}, { $id: 'Error', title: 'Error' })

export const HealthResponse = Type.Object({ status: Type.Literal('ok') })

export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  reason: Type.Optional(Type.Union([
    Type.Literal('openim_unreachable'), Type.Literal('openim_auth_failed'), Type.Literal('openim_timeout'),
    Type.Literal('openim_bad_response'), Type.Literal('openim_rejected'), Type.Literal('gateway_overloaded')
  ], { description: 'Why the gateway cannot serve (503 only).' })),
  message: Type.Optional(Type.String())
})

export const Ex = Type.String({ maxLength: 8192, description: 'Free-form extra data (often JSON), at most 8192 characters.', examples: ['{"team":"blue"}'] })
