// What differs between the OpenIM versions the emulator stands in for, read from their sources
// (open-im-server internal/api/router.go and internal/rpc/auth, protocol's Check() methods, tools' apiresp,
// a2r and tokenverify). See shared CONTRACT.md.
export type EmulatorMode = 'current' | 'v3.8.0' | 'legacy'

export const EMULATOR_MODES: readonly EmulatorMode[] = ['current', 'v3.8.0', 'legacy']

export interface Behaviour {
  /** Which REST API: get_admin_token and admin-token registration, or /auth/user_token and the secret. */
  api: 'current' | 'legacy'
  /**
   * Where the token middleware sits. v3.8+: global, before routing, so unknown routes need a token too;
   * paths starting with a `publicPaths` entry pass without one. v3.7: on each route, `publicPaths` exactly.
   */
  globalTokenCheck: boolean
  publicPaths: readonly string[]
  /** protocol v0.0.69+ `UserRegisterReq.Check`: new userIDs are letters, digits and "_" only (and new wording). */
  strictUserIDs: boolean
  /** account_check answers 1/0 (v3.8.1+) instead of "registered"/"unregistered". */
  numericAccountStatus: boolean
  /** force_logout marks the platform's tokens kicked (v3.8.0+); before, only connections drop. */
  forceLogoutKicks: boolean
  /** Minting kicks the earlier tokens of the same user and platform (v3.8.1+). */
  mintKicks: boolean
  /** get_user_token refuses platform 10 (v3.8.1+). */
  refusesAdminPlatform: boolean
  /** get_user_token refuses app accounts, appMangerLevel ≥ 3 (v3.8.3+). */
  refusesAppAccounts: boolean
  /**
   * Tokens of the admin userID are not stored and skip the status check (v3.8.2+: internal/rpc/auth/auth.go
   * parseToken and pkg/common/storage/controller/auth.go CreateToken at v3.8.2). Up to v3.8.0 each mint is one
   * more field in the Redis hash TOKEN:<admin>:10, kept for the token's whole life.
   */
  adminTokensUnstored: boolean
  /** An unknown user on mint: ErrUserIDNotFound 1101 up to v3.8.2, ErrRecordNotFound 1004 from v3.8.3. */
  unknownUserErrCode: number
  /**
   * The profile routes as v3.8.2+ answer them: get_users_info leaves unknown users out (#2792), and
   * update_user_info_ex checks its request (protocol v0.0.73) and loads the user first. Before: 1004 for an
   * unknown user on get_users_info, and a nil userInfo panics.
   */
  profilesV382: boolean
  /**
   * update_user_info_ex loads the user before updating it (v3.8.0+: GetUserByID, internal/rpc/user/user.go:177
   * at v3.8.0), so an unknown user is 1004 even when nothing is set. v3.7 only notices through Mongo's update
   * matching nothing, and an update that sets nothing never reaches Mongo.
   */
  updateLoadsUser: boolean
  /**
   * Errors raised in the API layer (the operationID and token middleware, a request's Check()) carry their text
   * in errDlt. Not on v3.8.3 (tools v0.0.50-alpha.67 apiresp.ParseError answers the CodeError's own detail,
   * which errs.WrapMsg leaves empty): `{"errCode":1001,"errMsg":"ArgsError","errDlt":""}`. Up to v3.8.2 the
   * detail falls back to err.Error(). (From v3.8.3-patch.5, tools v0.0.50-alpha.82, WrapMsg puts the text into
   * the detail again; the emulator plays the empty one, so that no test can lean on the text.)
   */
  apiErrorDetail: boolean
  /** tools up to v0.0.49 answer empty successes with `"data": null`; later ones leave `data` out. */
  emptyDataIsNull: boolean
  /** JWT time claims: `nbf` = now − 5 min (up to v3.8.2), or `iat` = now − 5 s and no `nbf` (v3.8.3+). */
  notBeforeClaim: boolean
  /** A body Go cannot decode: v3.7 answers 500; v3.8.0 1001 with errDlt "1001 <text>"; v3.8.3 1001, errDlt empty. */
  badJson: (decoderText: string) => Record<string, unknown>
}

export const BEHAVIOURS: Record<EmulatorMode, Behaviour> = {
  // v3.8.3-patch.x (protocol v0.0.73, tools v0.0.50-alpha.106).
  current: {
    api: 'current',
    globalTokenCheck: true,
    publicPaths: ['/auth/get_admin_token', '/auth/parse_token'],
    strictUserIDs: true,
    numericAccountStatus: true,
    forceLogoutKicks: true,
    mintKicks: true,
    refusesAdminPlatform: true,
    refusesAppAccounts: true,
    adminTokensUnstored: true,
    unknownUserErrCode: 1004,
    profilesV382: true,
    updateLoadsUser: true,
    apiErrorDetail: false,
    emptyDataIsNull: false,
    notBeforeClaim: false,
    badJson: (text) => ({ errCode: 1001, errMsg: text, errDlt: '' })
  },
  // v3.8.0 (protocol v0.0.69, tools v0.0.49-alpha.55): the legacy API with v3.8's global middleware and userID rule.
  'v3.8.0': {
    api: 'legacy',
    globalTokenCheck: true,
    publicPaths: ['/user/user_register', '/auth/user_token', '/auth/parse_token'],
    strictUserIDs: true,
    numericAccountStatus: false,
    forceLogoutKicks: true,
    mintKicks: false,
    refusesAdminPlatform: false,
    refusesAppAccounts: false,
    adminTokensUnstored: false,
    unknownUserErrCode: 1101,
    profilesV382: false,
    updateLoadsUser: true,
    apiErrorDetail: true,
    emptyDataIsNull: true,
    notBeforeClaim: true,
    badJson: (text) => ({ errCode: 1001, errMsg: text, errDlt: `1001 ${text}` })
  },
  // v3.7.x (protocol v0.0.65, tools v0.0.49-alpha.19).
  legacy: {
    api: 'legacy',
    globalTokenCheck: false,
    publicPaths: ['/user/user_register', '/auth/user_token', '/auth/parse_token'],
    strictUserIDs: false,
    numericAccountStatus: false,
    forceLogoutKicks: false,
    mintKicks: false,
    refusesAdminPlatform: false,
    refusesAppAccounts: false,
    adminTokensUnstored: false,
    unknownUserErrCode: 1101,
    profilesV382: false,
    updateLoadsUser: false,
    apiErrorDetail: true,
    emptyDataIsNull: true,
    notBeforeClaim: true,
    badJson: (text) => ({ errCode: 500, errMsg: text, errDlt: '' })
  }
}
