import Type from 'typebox'

// Written once: these give request validation, the TypeScript types and the OpenAPI document.
const PLATFORMS = 'OpenIM platform: 1 iOS, 2 Android, 3 Windows, 4 OSX, 5 Web, 6 MiniWeb, 7 Linux, 8 AndroidPad, 9 iPad. 10 (Admin) is refused.'
const USER_ID_RULES = 'The OpenIM userID. OpenIM v3.8.1+ accepts only letters, digits and "_"; v3.0–v3.8.0 anything without ":".'

const platformId = (description: string) => Type.Integer({ minimum: 1, maximum: 9, description, examples: [5] })
const userId = (description: string) => Type.String({ minLength: 1, maxLength: 64, description, examples: ['alice_42'] })

export const PlatformID = platformId(PLATFORMS)
export const UserID = userId(USER_ID_RULES)

export const ProvisionBody = Type.Object({
  userID: Type.Optional(userId(`${USER_ID_RULES} Required for API-key callers; an end user's token implies it (and a different one is 403).`)),
  platformID: PlatformID,
  nickname: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Used only when the user is created; defaults to the userID.', examples: ['Alice'] })),
  faceURL: Type.Optional(Type.String({ maxLength: 2048, description: 'Avatar URL, used only when the user is created.', examples: ['https://example.com/alice.png'] })),
  ex: Type.Optional(Type.String({ maxLength: 8192, description: 'Free-form extra data, used only when the user is created.' }))
}, { additionalProperties: false })

export const RevokeBody = Type.Object({
  userID: Type.Optional(userId('The user to log out. Required for API-key callers; an end user may only revoke themself.')),
  platformID: Type.Optional(platformId(`${PLATFORMS} Only this platform; every platform 1–9 when omitted.`))
}, { additionalProperties: false })

export const RevokeResponse = Type.Object({
  userID: UserID,
  platformIDs: Type.Array(PlatformID, { description: 'The platforms logged out: their earlier tokens stop working (OpenIM v3.8+).' })
})

export const ProvisionResponse = Type.Object({
  userID: UserID,
  platformID: PlatformID,
  token: Type.String({ description: 'The OpenIM user token for the OpenIM SDK login.' }),
  expireTimeSeconds: Type.Integer({ description: 'Lifetime of the token in seconds, as OpenIM reports it.', examples: [7776000] }),
  expiresAt: Type.String({ format: 'date-time', description: 'When the token expires (ISO 8601).' }),
  created: Type.Boolean({ description: 'Whether this call registered the user in OpenIM.' }),
  apiAddr: Type.Optional(Type.String({ description: 'OpenIM REST address for the SDK (OPENIM_PUBLIC_API_URL).' })),
  wsAddr: Type.Optional(Type.String({ description: 'OpenIM websocket address for the SDK (OPENIM_PUBLIC_WS_URL).' }))
})

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ examples: [502] }),
  code: Type.String({ description: 'Stable machine-readable error code.', examples: ['OPENIM_REJECTED'] }),
  error: Type.String({ description: 'HTTP reason phrase.', examples: ['Bad Gateway'] }),
  message: Type.String({ examples: ['OpenIM rejected /user/user_register with errCode 1001'] }),
  requestId: Type.String({ description: 'The x-request-id of this request; also the operationID sent to OpenIM.' }),
  openimErrCode: Type.Optional(Type.Integer({ description: 'OPENIM_REJECTED only: OpenIM\'s errCode.' })),
  openimErrMsg: Type.Optional(Type.String({ description: 'OPENIM_REJECTED only: the name of OpenIM\'s error.' }))
}, { $id: 'ErrorResponse', title: 'ErrorResponse' })

export const HealthResponse = Type.Object({ status: Type.Literal('ok') })

export const ReadinessResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  reason: Type.Optional(Type.Union([
    Type.Literal('openim_unreachable'), Type.Literal('openim_auth_failed'), Type.Literal('openim_timeout'),
    Type.Literal('openim_bad_response'), Type.Literal('openim_rejected'), Type.Literal('gateway_overloaded')
  ], { description: 'Why the gateway cannot serve (503 only).' })),
  message: Type.Optional(Type.String())
})

const errorDescriptions: Record<number, string> = {
  400: 'INVALID_REQUEST (schema violation, malformed JSON) or INVALID_USER_ID (breaks the connected OpenIM\'s userID rules)',
  401: 'UNAUTHENTICATED: missing or bad credentials (x-api-key or Bearer token)',
  403: 'FORBIDDEN: an end user asked for another user',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED: too many requests from this caller; retry after Retry-After seconds',
  500: 'INTERNAL_ERROR',
  502: 'OPENIM_AUTH_FAILED (OpenIM refused the gateway\'s secret or admin account), OPENIM_REJECTED (any other errCode), OPENIM_BAD_RESPONSE (non-JSON, HTML, wrong status, unexpected shape)',
  503: 'OPENIM_UNAVAILABLE (connection refused/reset, DNS failure), AUTH_UNAVAILABLE (the identity provider\'s keys cannot be fetched), OVERLOADED (the gateway is saturated; retry after Retry-After seconds) or SHUTTING_DOWN (this replica is stopping; retry)',
  504: 'OPENIM_TIMEOUT: an OpenIM call took longer than OPENIM_TIMEOUT_MS, or the request did not finish within REQUEST_DEADLINE_MS'
}

/** Both ways to call a protected operation, as declared in the OpenAPI document's securitySchemes. */
export const callerSecurity: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearerAuth: [] }]

/** The documented error responses of an operation, all in the one ErrorResponse shape. */
export function errorResponses (...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('ErrorResponse', { description: errorDescriptions[status] })]))
}
