import Type from 'typebox'
import { ClearableFaceURL, Ex, Nickname, UserID } from './fields.js'

// GET and PATCH /users/{userID}.
export const UserIDParams = Type.Object({
  userID: Type.String({
    minLength: 1, maxLength: 64, description: 'The OpenIM userID, as OpenIM stores it (URL-encoded).', examples: ['alice_42']
  })
})

export const UserProfile = Type.Object({
  userID: UserID,
  nickname: Type.String({ examples: ['Alice'] }),
  faceURL: Type.String({ description: 'Empty when the user has none.', examples: ['https://example.com/alice.png'] }),
  ex: Type.String({ description: 'Empty when the user has none.', examples: ['{"team":"blue"}'] }),
  createTime: Type.String({
    format: 'date-time', description: 'When OpenIM registered the user (ISO 8601).', examples: ['2026-11-25T09:30:00.000Z']
  })
}, {
  $id: 'UserProfile',
  title: 'UserProfile',
  examples: [{
    userID: 'alice_42', nickname: 'Alice', faceURL: 'https://example.com/alice.png', ex: '', createTime: '2026-11-25T09:30:00.000Z'
  }]
})

/** A user's profile as the gateway answers it (OpenIM's createTime as ISO 8601). */
export type UserProfile = Type.Static<typeof UserProfile>

export const UpdateUserRequest = Type.Object({
  nickname: Type.Optional(Nickname),
  faceURL: Type.Optional(ClearableFaceURL),
  ex: Type.Optional(Ex)
}, {
  additionalProperties: false,
  minProperties: 1,
  $id: 'UpdateUserRequest',
  title: 'UpdateUserRequest',
  examples: [{ nickname: 'Alice B.', faceURL: '' }]
})
export type UpdateUserRequest = Type.Static<typeof UpdateUserRequest>
