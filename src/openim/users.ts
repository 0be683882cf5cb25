import { ErrCode, OpenImError } from './errors.js'

// The wire shapes of OpenIM's profile calls, read from open-im-server v3.7.1 and v3.8.3-patch.15 with
// protocol v0.0.65 / v0.0.73-alpha.18. Both generations share them; what differs is by version, not
// generation, and is handled here so callers see one answer.

export interface UserInfo {
  userID: string
  nickname: string
  faceURL: string
  ex: string
  /** Milliseconds since the epoch (OpenIM's UserInfo.createTime). */
  createTime: number
}

/** What PATCH may change; an absent key is left alone, an empty string clears faceURL or ex. */
export interface ProfileChanges {
  nickname?: string
  faceURL?: string
  ex?: string
}

/**
 * /user/update_user_info_ex (v3.5+) takes sdkws.UserInfoWithEx, whose fields are protobuf StringValue
 * wrappers decoded with encoding/json: `{"nickname": {"value": "…"}}`. A plain string is a decode error;
 * a missing wrapper leaves the field unchanged, `{"value": ""}` sets it empty.
 */
export function updateUserInfoExBody (userID: string, changes: ProfileChanges): Record<string, unknown> {
  const userInfo: Record<string, unknown> = { userID }
  for (const key of ['nickname', 'faceURL', 'ex'] as const) {
    const value = changes[key]
    if (value !== undefined) userInfo[key] = { value }
  }
  return { userInfo }
}

/**
 * /user/get_users_info answers `{usersInfo: [...]}`. Up to v3.8.1 an unknown userID fails the call with
 * 1004 (FindWithError); from v3.8.2 it is left out (`usersInfo: null` when none is found).
 */
export function parseUsersInfo (data: unknown): UserInfo[] {
  const list = (data as { usersInfo?: unknown } | undefined)?.usersInfo
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) throw shapeError()
  return list.map((entry: Record<string, unknown>) => {
    const { userID, nickname, faceURL, ex, createTime } = entry ?? {}
    if (typeof userID !== 'string' || typeof nickname !== 'string' || typeof faceURL !== 'string' ||
      typeof ex !== 'string' || typeof createTime !== 'number' || Number.isNaN(new Date(createTime).getTime())) throw shapeError()
    return { userID, nickname, faceURL, ex, createTime }
  })
}

/** 1004 RecordNotFound: get_users_info up to v3.8.1, and update_user_info_ex, for a user OpenIM does not have. */
export function isUnknownUser (error: unknown): boolean {
  return error instanceof OpenImError && error.kind === 'rejected' && error.errCode === ErrCode.RecordNotFound
}

const shapeError = () => new OpenImError('bad_response', '/user/get_users_info', 'OpenIM answered get_users_info with an unexpected shape')
