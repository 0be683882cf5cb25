import Type, { type TSchema } from 'typebox'

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

export const ProvisionRequest = Type.Object({
  userID: Type.Optional(userId(`${USER_ID_RULES} Required for API-key callers; an end user's token implies it (and a different one is 403).`)),
  platformID: PlatformID,
  nickname: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Used only when the user is created; defaults to the userID.', examples: ['Alice'] })),
  faceURL: Type.Optional(Type.String({ maxLength: 2048, description: 'Avatar URL, used only when the user is created.', examples: ['https://example.com/alice.png'] })),
  ex: Type.Optional(Type.String({ maxLength: 8192, description: 'Free-form extra data, used only when the user is created.' }))
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
  expireTimeSeconds: Type.Integer({ description: 'Lifetime of the token in seconds, as OpenIM reports it.', examples: [7776000] }),
  expiresAt: Type.String({ format: 'date-time', description: 'When the token expires (ISO 8601).' }),
  created: Type.Boolean({ description: 'Whether this call registered the user in OpenIM.' }),
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
  openimErrMsg: Type.Optional(Type.String({ description: 'OPENIM_REJECTED only: the name of OpenIM\'s error.' }))
}, { $id: 'Error', title: 'Error' })

export const HealthResponse = Type.Object({ status: Type.Literal('ok') })

export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  reason: Type.Optional(Type.Union([
    Type.Literal('openim_unreachable'), Type.Literal('openim_auth_failed'), Type.Literal('openim_timeout'),
    Type.Literal('openim_bad_response'), Type.Literal('openim_rejected')
  ], { description: 'Why the gateway cannot serve (503 only).' })),
  message: Type.Optional(Type.String())
})

// Value rules for profile fields. The security work (issue 10) adds the same names for /provision; the
// two are reconciled at merge. Nicknames are shown to other people: no control characters, no bidi
// overrides or isolates (which can make a name read as another), not only white space.
export const Nickname = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^(?!\\s*$)[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$',
  description: '1–255 characters, not only white space, without control characters or bidi overrides.',
  examples: ['Alice']
})

/** Avatars are loaded by every client that shows the user: only http(s) URLs, nothing a client might execute. */
export const FaceURL = Type.String({
  maxLength: 2048,
  pattern: '^https?://[^\\s\\u0000-\\u001F\\u007F-\\u009F]+$',
  description: 'An http(s) URL of at most 2048 characters.',
  examples: ['https://example.com/alice.png']
})

export const Ex = Type.String({ maxLength: 8192, description: 'Free-form extra data (often JSON), at most 8192 characters.', examples: ['{"team":"blue"}'] })
