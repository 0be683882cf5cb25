import { createHash } from 'node:crypto'
import Type from 'typebox'
import { commaList, fail, httpUrl, isPlaceholder, positiveInt, withoutCredentials, wsUrl } from './shared.js'

// The admin and system accounts OpenIM and openim-chat ship with across v3.x, read from their config files:
// - imAdmin: open-im-server v3.5.0 deployments/templates/openim.yaml and v3.6.0 deployments/templates/config.yaml
//   `im-admin.userID` (IM_ADMIN_USERID, default imAdmin), v3.7.0–v3.8.3 config/share.yml `imAdminUserID`;
//   openim-chat v1.5.0–v1.6.0 `chatAdmin[].imAdmin`, v1.7.0 share.yml `chatAdmin[].imUserID`, v1.8.0–v1.8.4-patch.5
//   share.yml `openIM.adminUserID`.
// - openIM123456, openIM654321, openIMAdmin: open-im-server v3.0.0–v3.5.1 config.yaml `manager.userID`, registered
//   as app managers at start-up (internal/rpc/user/user.go); openim-chat v1.1.0–v1.5.0 `adminList[].imAdmin`.
// - chatAdmin: openim-chat v1.5.0–v1.7.0 `chatAdmin[].adminID`, v1.8.0–v1.8.4-patch.5 share.yml `chatAdmin`, the
//   userID openim-chat acts as when it calls itself as administrator (internal/api/util/api.go ChatAdminUserID).
// Left out: openim-chat's admin1–admin3 (v1.1.0–v1.5.0 `adminList[].adminID`) are console logins, never OpenIM
// userIDs; OpenIM's notification accounts (/user/add_notification_account) get generated IDs, and current
// servers refuse them tokens themselves (1001 "app account can`t get token").
const DEFAULT_RESERVED_USER_IDS = 'imAdmin,openIM123456,openIM654321,openIMAdmin,chatAdmin'

// How the gateway reaches OpenIM, and what it tells clients about OpenIM.
export const OpenImEnv = Type.Object({
  OPENIM_API_URL: Type.String({
    pattern: httpUrl,
    description: 'OpenIM REST base URL, e.g. `http://openim-server:10002` (a path prefix is kept); a `user:pass@` in it is refused ' +
      '(OpenIM authenticates the gateway by `OPENIM_SECRET` alone)'
  }),
  OPENIM_SECRET: Type.String({
    minLength: 1,
    maxLength: 256,
    description: 'The OpenIM secret; never logged, never returned. A value beginning with `change-me` (an example\'s placeholder) ' +
      'stops the start'
  }),
  OPENIM_ADMIN_USER_ID: Type.String({
    minLength: 1,
    maxLength: 64,
    default: 'imAdmin',
    description: 'Admin account used for admin tokens; always reserved (see [Security](../operators/security.md))'
  }),
  // Admin and system accounts OpenIM and openim-chat ship with: never provisioned or revoked through the gateway.
  OPENIM_RESERVED_USER_IDS: Type.String({
    default: DEFAULT_RESERVED_USER_IDS,
    description: 'Comma-separated userIDs (each at most 64 characters) no caller may provision or revoke (403 `RESERVED_USER_ID`); ' +
      'setting it replaces the list, `OPENIM_ADMIN_USER_ID` stays reserved; matched ignoring case, surrounding spaces and accents'
  }),
  OPENIM_API_MODE: Type.Union([Type.Literal('auto'), Type.Literal('current'), Type.Literal('legacy')], {
    default: 'auto',
    description: 'The OpenIM API generation: `auto` detects it on the first request, `current` is v3.8.1+, `legacy` v3.0–v3.8.0'
  }),
  OPENIM_TIMEOUT_MS: positiveInt(100, 120_000, 5000,
    'Deadline for one OpenIM call: bounds connecting, waiting for the answer, and each pause in its body'),
  // Unset: twice OPENIM_TIMEOUT_MS, so a flow whose first call times out can still finish with a retry's worth.
  REQUEST_DEADLINE_MS: Type.Optional(Type.Integer({
    minimum: 100,
    maximum: 600_000,
    description: 'Default: twice `OPENIM_TIMEOUT_MS`. The most a `/provision` or `/revoke` waits for OpenIM in all, queueing for a ' +
      'connection included; then 504 `OPENIM_TIMEOUT`. Not shorter than `OPENIM_TIMEOUT_MS` ' +
      '(see [Limits and deadlines](../operators/limits.md))'
  })),
  OPENIM_MAX_PENDING_CALLS: positiveInt(0, 100_000, 256,
    'OpenIM calls that may wait for a pool connection; beyond them a call is refused at once with 503 `OVERLOADED` (0: never wait)'),
  // Unset: by generation (src/openim/generations.ts adminTokenReuseMs); set, it applies to every generation.
  OPENIM_ADMIN_TOKEN_TTL_SECONDS: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 86_400,
    description: 'Default: 240 s on OpenIM v3.8.1+, until a day before it expires on v3.0 – v3.8.0. How long an admin token is ' +
      'reused (never past its own lifetime); before v3.8.1 every new admin token grows a hash OpenIM reads on every admin call'
  })),
  OPENIM_PUBLIC_API_URL: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'An `http(s)://` URL: when set, returned to clients as `apiAddr`, so the OpenIM SDK can log in with one response; ' +
      'a `user:pass@` in it is refused (every caller would receive it)'
  })),
  OPENIM_PUBLIC_WS_URL: Type.Optional(Type.String({
    pattern: wsUrl,
    description: 'A `ws(s)://` URL: when set, returned to clients as `wsAddr`, like `OPENIM_PUBLIC_API_URL`; no `user:pass@`'
  })),
  OPENIM_POOL_CONNECTIONS: positiveInt(1, 1024, 64, 'Keep-alive connections to OpenIM (see [Performance](../figures/performance.md))'),
  OPENIM_POOL_PIPELINING: positiveInt(1, 16, 1, 'Requests in flight per connection (1: no pipelining)'),
  OPENIM_KEEP_ALIVE_TIMEOUT_MS: positiveInt(1000, 600_000, 30_000, 'How long an idle connection to OpenIM is kept')
})

export interface OpenImSettings {
  openim: {
    apiUrl: string
    secret: string
    adminUserID: string
    /** OPENIM_RESERVED_USER_IDS plus the admin userID: IDs no caller may provision, revoke or otherwise name. */
    reservedUserIDs: ReadonlySet<string>
    apiMode: 'auto' | 'current' | 'legacy'
    timeoutMs: number
    /** Undefined: by generation (minutes on current servers, most of the token's life on legacy ones). */
    adminTokenTtlMs?: number
    /** Calls that may wait for a pool connection; beyond them a call fails at once as overloaded. */
    pool: { connections: number, pipelining: number, keepAliveTimeoutMs: number, maxPendingCalls: number }
  }
  /** The most a /provision or /revoke request waits for OpenIM in total, queueing for a connection included. */
  requestDeadlineMs: number
  publicApiUrl?: string
  publicWsUrl?: string
  /** Set when the secret is one OpenIM ships as a default: the server logs a warning. */
  usesDefaultSecret: boolean
}

// sha256 of the defaults OpenIM ships (v3.0.0's and v3.1+'s), so src/ holds no usable secret.
const DEFAULT_SECRET_HASHES = new Set([
  'a67d156605e776e56363be1eb507ce3a1c360dcc93b48d487eca93be1215ec51',
  '739907614639943f800498347f45f80183a557aea551d0da035fce98d743ff26'
])
export const secretFingerprint = (secret: string) => createHash('sha256').update(secret).digest('hex')

function reservedUserIDs (value: string): string[] {
  const entries = commaList(value)
  for (const entry of entries) {
    if (entry.length > 64) fail(`OPENIM_RESERVED_USER_IDS: "${entry.slice(0, 20)}…" is longer than a userID can be (64 characters)`)
  }
  return entries
}

// The connection pool keeps only the URL's origin, so user:pass@ would be dropped without a word; OpenIM
// authenticates the gateway by its secret alone.
const apiUrl = (value: string) => withoutCredentials('OPENIM_API_URL', value, 'OpenIM does not use them (the gateway ' +
  'authenticates with OPENIM_SECRET); put credentials a proxy in front of OpenIM needs into the proxy instead').replace(/\/+$/, '')

// Handed to every caller in /provision's answer: credentials there would go to every front end.
const publicUrl = (name: string, value: string | undefined) =>
  value === undefined ? undefined : withoutCredentials(name, value, 'it is handed to every caller in /provision\'s answer')

export function openImSettings (env: Type.Static<typeof OpenImEnv>): OpenImSettings {
  const requestDeadlineMs = env.REQUEST_DEADLINE_MS ?? 2 * env.OPENIM_TIMEOUT_MS
  if (isPlaceholder(env.OPENIM_SECRET)) {
    fail('OPENIM_SECRET is a placeholder ("change-me…"): generate a secret (openssl rand -hex 32) and give OpenIM the same one ' +
      '(share.yml secret, IMENV_SHARE_SECRET)')
  }
  if (requestDeadlineMs < env.OPENIM_TIMEOUT_MS) {
    fail('REQUEST_DEADLINE_MS must not be shorter than OPENIM_TIMEOUT_MS (one call could never finish)')
  }
  return {
    openim: {
      apiUrl: apiUrl(env.OPENIM_API_URL),
      secret: env.OPENIM_SECRET,
      adminUserID: env.OPENIM_ADMIN_USER_ID,
      reservedUserIDs: new Set([env.OPENIM_ADMIN_USER_ID, ...reservedUserIDs(env.OPENIM_RESERVED_USER_IDS)]),
      apiMode: env.OPENIM_API_MODE,
      timeoutMs: env.OPENIM_TIMEOUT_MS,
      adminTokenTtlMs: env.OPENIM_ADMIN_TOKEN_TTL_SECONDS === undefined ? undefined : env.OPENIM_ADMIN_TOKEN_TTL_SECONDS * 1000,
      pool: {
        connections: env.OPENIM_POOL_CONNECTIONS,
        pipelining: env.OPENIM_POOL_PIPELINING,
        keepAliveTimeoutMs: env.OPENIM_KEEP_ALIVE_TIMEOUT_MS,
        maxPendingCalls: env.OPENIM_MAX_PENDING_CALLS
      }
    },
    requestDeadlineMs,
    publicApiUrl: publicUrl('OPENIM_PUBLIC_API_URL', env.OPENIM_PUBLIC_API_URL),
    publicWsUrl: publicUrl('OPENIM_PUBLIC_WS_URL', env.OPENIM_PUBLIC_WS_URL),
    usesDefaultSecret: DEFAULT_SECRET_HASHES.has(secretFingerprint(env.OPENIM_SECRET))
  }
}
