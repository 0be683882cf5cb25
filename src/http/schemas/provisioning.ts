import Type from 'typebox'
import { NICKNAME_RULES, PLATFORMS, PlatformID, USER_ID_RULES, UserID, ex, faceURL, nickname, platformId, userId } from './fields.js'

// POST /provision and POST /revoke.
const END_USERS_IGNORED = 'Ignored for end users (their token\'s claims supply it).'

export const ProvisionRequest = Type.Object({
  userID: Type.Optional(userId(
    `${USER_ID_RULES} Required for API-key callers; an end user's token implies it (and a different one is 403).`)),
  platformID: PlatformID,
  nickname: Type.Optional(nickname('Used only when the user is created; defaults to the userID (to user_ and 12 hex digits when the ' +
    `userID breaks these rules). ${NICKNAME_RULES} ${END_USERS_IGNORED}`)),
  faceURL: Type.Optional(faceURL(`Avatar URL (http or https), used only when the user is created. ${END_USERS_IGNORED}`)),
  ex: Type.Optional(ex('Free-form extra data (well-formed Unicode), used only when the user is created. Ignored for end users.')),
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

export type ProvisionRequest = Type.Static<typeof ProvisionRequest>

export const ProvisionResponse = Type.Object({
  userID: UserID,
  platformID: PlatformID,
  token: Type.String({ description: 'The OpenIM user token for the OpenIM SDK login.' }),
  expireTimeSeconds: Type.Integer({
    description: 'Seconds left until expiresAt when the answer was made: the token\'s whole lifetime (OpenIM\'s tokenPolicy.expire) ' +
      'for a new token, less for a reused one.',
    examples: [7776000]
  }),
  expiresAt: Type.String({
    format: 'date-time', description: 'When the token expires (ISO 8601): for a reused token, the expiry OpenIM holds for it.'
  }),
  created: Type.Boolean({ description: 'Whether this call registered the user in OpenIM.' }),
  reused: Type.Boolean({
    description: 'true: a token the gateway handed out before, confirmed live by OpenIM and returned again; nothing was minted and no ' +
      'session was logged out. false: a token minted for this request (or for concurrent requests for the same user and platform, ' +
      'which share it).'
  }),
  apiAddr: Type.Optional(Type.String({ description: 'OpenIM REST address for the SDK (OPENIM_PUBLIC_API_URL).' })),
  wsAddr: Type.Optional(Type.String({ description: 'OpenIM websocket address for the SDK (OPENIM_PUBLIC_WS_URL).' }))
}, { $id: 'ProvisionResponse', title: 'ProvisionResponse' })

export const RevokeRequest = Type.Object({
  userID: Type.Optional(userId('The user to log out. Required for API-key callers; an end user may only revoke themself.')),
  platformID: Type.Optional(platformId(`${PLATFORMS} Only this platform; every platform 1–9 when omitted.`))
}, { $id: 'RevokeRequest', title: 'RevokeRequest', additionalProperties: false, examples: [{ userID: 'alice_42', platformID: 5 }] })

export const RevokeResponse = Type.Object({
  userID: UserID,
  platformIDs: Type.Array(PlatformID, { description: 'The platforms logged out: their earlier tokens stop working (OpenIM v3.8+).' })
}, { $id: 'RevokeResponse', title: 'RevokeResponse' })
