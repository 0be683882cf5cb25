import t from 'tap'
import { ConfigError, loadConfig } from '../src/config/index.js'

const required = { OPENIM_API_URL: 'http://openim-server:10002', OPENIM_SECRET: 's3cret', GATEWAY_API_KEYS: 'billing:0123456789abcdef' }

t.test('defaults', async (t) => {
  const config = loadConfig(required)
  t.match(config, {
    openim: { apiUrl: 'http://openim-server:10002', adminUserID: 'imAdmin', apiMode: 'auto', timeoutMs: 5000 },
    host: '0.0.0.0',
    port: 3000,
    logLevel: 'info',
    usesDefaultSecret: false
  })
  t.equal(config.openim.adminTokenTtlMs, undefined, 'the admin token\'s reuse is chosen by generation unless set')
  t.equal(config.publicApiUrl, undefined)
})

t.test('values are parsed and a trailing slash is dropped from the API URL', async (t) => {
  const config = loadConfig({
    ...required,
    OPENIM_API_URL: 'https://im.example.com/api/',
    OPENIM_API_MODE: 'legacy',
    OPENIM_TIMEOUT_MS: '2500',
    OPENIM_ADMIN_TOKEN_TTL_SECONDS: '60',
    OPENIM_PUBLIC_WS_URL: 'wss://im.example.com/ws',
    PORT: '8080'
  })
  t.equal(config.openim.apiUrl, 'https://im.example.com/api')
  t.equal(config.openim.apiMode, 'legacy')
  t.equal(config.openim.timeoutMs, 2500)
  t.equal(config.openim.adminTokenTtlMs, 60_000)
  t.equal(config.publicWsUrl, 'wss://im.example.com/ws')
  t.equal(config.port, 8080)
})

t.test('a bad or missing value stops start-up with a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ OPENIM_SECRET: 's' }, /OPENIM_API_URL/],
    [{ OPENIM_API_URL: 'http://x:1' }, /OPENIM_SECRET/],
    [{ ...required, OPENIM_API_URL: 'openim-server:10002' }, /OPENIM_API_URL/],
    [{ ...required, OPENIM_API_MODE: 'v3' }, /OPENIM_API_MODE/],
    [{ ...required, OPENIM_TIMEOUT_MS: 'soon' }, /OPENIM_TIMEOUT_MS/],
    [{ ...required, OPENIM_TIMEOUT_MS: '0' }, /OPENIM_TIMEOUT_MS/],
    [{ ...required, OPENIM_ADMIN_TOKEN_TTL_SECONDS: '-5' }, /OPENIM_ADMIN_TOKEN_TTL_SECONDS/],
    [{ ...required, OPENIM_PUBLIC_WS_URL: 'http://im.example.com' }, /OPENIM_PUBLIC_WS_URL/],
    [{ ...required, PORT: '70000' }, /PORT/],
    [{ ...required, LOG_LEVEL: 'loud' }, /LOG_LEVEL/]
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig(env), { constructor: ConfigError, message: variable }, JSON.stringify(env))
  }
})

t.test('OPENIM_API_URL with user:pass@ is refused without repeating the password: OpenIM would never see it', async (t) => {
  for (const OPENIM_API_URL of ['http://gw:hunter2-pass@openim-server:10002', 'https://gw@openim-server:10002/api', 'http://:hunter2-pass@openim-server:10002']) {
    t.throws(() => loadConfig({ ...required, OPENIM_API_URL }), { constructor: ConfigError, message: /OPENIM_API_URL must not carry a user name or password/ }, OPENIM_API_URL)
    try {
      loadConfig({ ...required, OPENIM_API_URL })
    } catch (error) {
      t.notMatch((error as Error).message, /hunter2|gw@/)
    }
  }
  t.throws(() => loadConfig({ ...required, OPENIM_API_URL: 'http://[openim' }), { message: /OPENIM_API_URL is not a valid URL/ })
  t.equal(loadConfig({ ...required, OPENIM_API_URL: 'http://openim-server:10002/a@b' }).openim.apiUrl, 'http://openim-server:10002/a@b', 'an @ in the path is no credential')
})

t.test('URLs handed to callers or fetched by the gateway refuse user:pass@ too, without repeating it', async (t) => {
  const jwks = { JWT_AUDIENCE: 'gateway', GATEWAY_API_KEYS: '' }
  const cases: Array<[Record<string, string>, string]> = [
    [{ OPENIM_PUBLIC_API_URL: 'https://ops:hunter2-pass@im.example.com/api' }, 'OPENIM_PUBLIC_API_URL'],
    [{ OPENIM_PUBLIC_WS_URL: 'wss://ops:hunter2-pass@im.example.com/ws' }, 'OPENIM_PUBLIC_WS_URL'],
    [{ PUBLIC_BASE_URL: 'https://ops:hunter2-pass@gateway.example.com' }, 'PUBLIC_BASE_URL'],
    [{ ...jwks, JWT_JWKS_URL: 'https://ops:hunter2-pass@idp.example.com/jwks.json' }, 'JWT_JWKS_URL']
  ]
  for (const [env, variable] of cases) {
    let message = ''
    try {
      loadConfig({ ...required, ...env })
    } catch (error) {
      t.ok(error instanceof ConfigError, variable)
      message = (error as Error).message
    }
    t.match(message, new RegExp(`${variable} must not carry a user name or password`), variable)
    t.notMatch(message, /hunter2|ops@/, `${variable}: the password is not repeated`)
  }
  t.match(loadConfig({ ...required, OPENIM_PUBLIC_API_URL: 'https://im.example.com/api', OPENIM_PUBLIC_WS_URL: 'wss://im.example.com/ws' }),
    { publicApiUrl: 'https://im.example.com/api', publicWsUrl: 'wss://im.example.com/ws' }, 'without credentials, as given')
  t.equal(loadConfig({ ...required, PUBLIC_BASE_URL: 'https://gateway.example.com/' }).publicBaseUrl, 'https://gateway.example.com')
})

t.test('a malformed or credentialed OTLP endpoint or CORS origin stops start-up naming the variable, never repeating the password', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:Sekr3t@[::1:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT is not a valid URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://user:Sekr3t@[::1:4318/v1/traces' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a valid URL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:Sekr3t@collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT must not carry a user name or password.*OTEL_EXPORTER_OTLP_HEADERS/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://user:Sekr3t@collector/v1/traces', OTEL_SDK_DISABLED: 'true' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must not carry/],
    [{ CORS_ORIGINS: 'https://app.example.com,https://user:Sekr3t@app.example.com' }, /CORS_ORIGINS: an entry carries a user name or password/]
  ]
  for (const [env, message] of cases) {
    let thrown: unknown
    try {
      loadConfig({ ...required, ...env })
    } catch (error) {
      thrown = error
    }
    t.ok(thrown instanceof ConfigError, JSON.stringify(env))
    t.match((thrown as Error).message, message)
    t.notMatch((thrown as Error).message, /Sekr3t/, 'the password is not repeated')
  }
})

t.test('an empty variable counts as unset', async (t) => {
  t.equal(loadConfig({ ...required, OPENIM_PUBLIC_API_URL: '', PORT: '' }).port, 3000)
})

t.test('the secrets OpenIM ships with are flagged', async (t) => {
  t.equal(loadConfig({ ...required, OPENIM_SECRET: 'openIM123' }).usesDefaultSecret, true)
  t.equal(loadConfig({ ...required, OPENIM_SECRET: 'tuoyun' }).usesDefaultSecret, true)
})

t.test('the placeholders of the examples ("change-me…") are refused as the OpenIM secret and as API keys', async (t) => {
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ OPENIM_SECRET: 'change-me-generate-with-openssl-rand-hex-32' }, /OPENIM_SECRET is a placeholder .*openssl rand -hex 32/],
    [{ OPENIM_SECRET: 'CHANGEME' }, /OPENIM_SECRET is a placeholder/],
    [{ GATEWAY_API_KEYS: 'bff:change-me-to-a-random-key-of-48-hex-chars' }, /GATEWAY_API_KEYS: the key of "bff" is a placeholder .*openssl rand -hex 24/],
    [{ GATEWAY_API_KEYS: 'billing:0123456789abcdef,bff:changeme-0123456789abcdef' }, /the key of "bff" is a placeholder/]
  ]
  for (const [env, message] of refused) {
    const error = t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env)) as Error
    for (const value of Object.values(env)) t.notMatch(error.message, value, 'the value is not repeated')
  }
  t.equal(loadConfig({ ...required, OPENIM_SECRET: 'secret-change-me-later', GATEWAY_API_KEYS: 'bff:0123456789abcdef-change-me' }).openim.secret,
    'secret-change-me-later', 'only a value that starts with the placeholder')
})

t.test('server timeouts are validated together', async (t) => {
  t.match(loadConfig(required).http, { requestTimeoutMs: 60_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 })
  t.throws(() => loadConfig({ ...required, HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '5000' }), /HTTP_HEADERS_TIMEOUT_MS/)
})

t.test('PUBLIC_BASE_URL: an http(s) address, kept without its trailing slash', async (t) => {
  t.equal(loadConfig(required).publicBaseUrl, undefined)
  t.equal(loadConfig({ ...required, PUBLIC_BASE_URL: 'https://chat.example.com/gateway/' }).publicBaseUrl, 'https://chat.example.com/gateway')
  for (const value of ['chat.example.com', 'ftp://chat.example.com', 'https://chat.example.com/?x=1']) {
    t.throws(() => loadConfig({ ...required, PUBLIC_BASE_URL: value }), { constructor: ConfigError, message: /PUBLIC_BASE_URL/ }, value)
  }
})

t.test('caller authentication settings', async (t) => {
  const base = { OPENIM_API_URL: 'http://openim-server:10002', OPENIM_SECRET: 's3cret' }
  t.throws(() => loadConfig(base), /GATEWAY_API_KEYS.*JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_SECRET.*AUTH_DISABLED/, 'secure by default')
  t.same(loadConfig(base, { requireCallerAuth: false }).auth, { disabled: false, apiKeys: [], jwt: undefined }, 'tools that only report may load without it')
  t.throws(() => loadConfig({ ...base, GATEWAY_API_KEYS: 'billing:short' }, { requireCallerAuth: false }), /"billing" is shorter than 16/, 'but what is set is still validated')
  t.equal(loadConfig({ ...base, AUTH_DISABLED: 'true' }).auth.disabled, true)
  t.same(loadConfig({ ...base, GATEWAY_API_KEYS: 'billing:0123456789abcdef, bff:fedcba9876543210' }).auth.apiKeys,
    [{ name: 'billing', key: '0123456789abcdef' }, { name: 'bff', key: 'fedcba9876543210' }])
  t.same(loadConfig({ ...base, GATEWAY_API_KEYS: 'billing:0123456789abcdef,billing:fedcba9876543210' }).auth.apiKeys,
    [{ name: 'billing', key: '0123456789abcdef' }, { name: 'billing', key: 'fedcba9876543210' }], 'a name may have several keys (rotation)')
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ GATEWAY_API_KEYS: 'billing:short' }, /"billing" is shorter than 16/],
    [{ GATEWAY_API_KEYS: '0123456789abcdef' }, /name:key pairs/],
    [{ GATEWAY_API_KEYS: 'a:0123456789abcdef,b:0123456789abcdef' }, /the same key appears twice/],
    [{ GATEWAY_API_KEYS: 'a:0123456789abcdef,a:0123456789abcdef' }, /the same key appears twice/],
    [{ JWT_JWKS_URL: 'http://id.example.com/jwks.json' }, /JWT_JWKS_URL must use https/],
    [{ JWT_SECRET: 'too-short' }, /JWT_SECRET/],
    [{ JWT_SECRET: 'x'.repeat(32), JWT_JWKS_URL: 'https://id.example.com/jwks.json' }, /only one of/],
    [{ JWT_SECRET: 'x'.repeat(32), JWT_ALGORITHMS: 'RS256' }, /always HS256/],
    [{ GATEWAY_API_KEYS: 'a:0123456789abcdef', JWT_ISSUER: 'https://id.example.com' }, /JWT_ISSUER.*need/],
    [{ JWT_JWKS_URL: 'https://id.example.com/jwks.json', JWT_ALGORITHMS: 'none' }, /JWT_ALGORITHMS/],
    [{ JWT_PUBLIC_KEY: 'not a pem' }, /JWT_PUBLIC_KEY/],
    [{ AUTH_DISABLED: 'maybe' }, /AUTH_DISABLED/],
    [{ AUTH_DISABLED: 'true', CORS_ORIGINS: 'https://app.example.com/path' }, /CORS_ORIGINS/],
    [{ AUTH_DISABLED: 'true', JWT_USER_ID_MAPPING: 'sanitize' }, /JWT_USER_ID_MAPPING/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...base, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
  const jwks = loadConfig({ ...base, JWT_JWKS_URL: 'http://localhost:8080/jwks.json', JWT_AUDIENCE: 'chat, admin' }).auth.jwt
  t.match(jwks, {
    source: { kind: 'jwks', url: 'http://localhost:8080/jwks.json', cooldownMs: 30_000 },
    algorithms: ['RS256', 'ES256', 'PS256'],
    audience: ['chat', 'admin'],
    allowAnyAudience: false,
    clockToleranceSeconds: 30,
    maxLifetimeSeconds: undefined,
    userIdClaim: 'sub',
    userIdMapping: 'none',
    nicknameClaim: 'name',
    faceUrlClaim: 'picture'
  })
  t.same(loadConfig({ ...base, AUTH_DISABLED: 'true', CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).corsOrigins,
    ['https://app.example.com', 'http://localhost:5173'])
})

t.test('limits, proxies and Redis settings', async (t) => {
  const defaults = loadConfig(required)
  t.same(defaults.rateLimit, { max: 60, windowMs: 60_000 })
  t.equal(defaults.redis, undefined, 'no Redis unless one is configured (test/config/redis.test.ts)')
  t.same(defaults.authFailureLimit, { max: 30, windowMs: 60_000 })
  t.same(loadConfig({ ...required, AUTH_FAILURE_LIMIT_MAX: '0', AUTH_FAILURE_LIMIT_WINDOW: '5 minutes' }).authFailureLimit, { max: 0, windowMs: 300_000 })
  t.equal(defaults.trustProxy, false)
  t.equal(defaults.bodyLimitBytes, 65_536)
  t.equal(defaults.overloadMaxEventLoopDelayMs, 1000)
  for (const [window, ms] of [['30s', 30_000], ['2 minutes', 120_000], ['1 hour', 3_600_000], ['5000', 5000], ['1500 ms', 1500]] as const) {
    t.equal(loadConfig({ ...required, RATE_LIMIT_WINDOW: window }).rateLimit.windowMs, ms, window)
  }
  t.equal(loadConfig({ ...required, TRUST_PROXY: 'true' }).trustProxy, true)
  const twoHops = loadConfig({ ...required, TRUST_PROXY: '2' }).trustProxy as (address: string, hop: number) => boolean
  t.same([0, 1, 2].map((hop) => twoHops('10.0.0.1', hop)), [true, true, false], 'a hop count trusts the peer and one more proxy')
  t.same(loadConfig({ ...required, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1'])
  t.match(loadConfig({ ...required, REDIS_URL: 'rediss://:pw@redis:6380/0' }).redis, { topology: { kind: 'standalone' }, password: 'pw', db: 0, tls: {} })
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ RATE_LIMIT_MAX: '0' }, /RATE_LIMIT_MAX/],
    [{ RATE_LIMIT_WINDOW: 'a while' }, /RATE_LIMIT_WINDOW/],
    [{ RATE_LIMIT_WINDOW: '10 ms' }, /RATE_LIMIT_WINDOW must be between/],
    [{ RATE_LIMIT_WINDOW: '2 fortnights' }, /RATE_LIMIT_WINDOW/],
    [{ REDIS_URL: 'http://redis:6379' }, /REDIS_URL/],
    [{ TRUST_PROXY: 'yes' }, /TRUST_PROXY/],
    [{ TRUST_PROXY: '10.0.0.0/8/1' }, /TRUST_PROXY/],
    [{ BODY_LIMIT_BYTES: '100' }, /BODY_LIMIT_BYTES/],
    [{ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '-1' }, /OVERLOAD_MAX_EVENT_LOOP_DELAY_MS/],
    [{ AUTH_FAILURE_LIMIT_MAX: '-1' }, /AUTH_FAILURE_LIMIT_MAX/],
    [{ AUTH_FAILURE_LIMIT_WINDOW: 'forever' }, /AUTH_FAILURE_LIMIT_WINDOW/],
    [{ AUTH_FAILURE_LIMIT_WINDOW: '10 ms' }, /AUTH_FAILURE_LIMIT_WINDOW must be between/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
})

t.test('user import settings', async (t) => {
  t.same(loadConfig(required).import, { maxUsers: 1000, maxConcurrent: 4, bodyLimitBytes: 4 * 1024 * 1024, rateLimitMax: 120, deadlineMs: 30_000 })
  t.same(loadConfig({ ...required, IMPORT_MAX_USERS: '5000', IMPORT_MAX_CONCURRENT: '64', IMPORT_BODY_LIMIT_BYTES: '65536', IMPORT_RATE_LIMIT_MAX: '1', IMPORT_DEADLINE_MS: '1000' }).import,
    { maxUsers: 5000, maxConcurrent: 64, bodyLimitBytes: 65_536, rateLimitMax: 1, deadlineMs: 1000 })
  t.match(loadConfig({ ...required, IMPORT_MAX_CONCURRENT: '2', IMPORT_BODY_LIMIT_BYTES: String(16 * 1024 * 1024) }).import,
    { maxConcurrent: 2, bodyLimitBytes: 16 * 1024 * 1024 }, 'exactly 32 MiB of bodies at once')
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ IMPORT_MAX_USERS: '0' }, /IMPORT_MAX_USERS/],
    [{ IMPORT_MAX_USERS: '5001' }, /IMPORT_MAX_USERS/],
    [{ IMPORT_MAX_CONCURRENT: '0' }, /IMPORT_MAX_CONCURRENT/],
    [{ IMPORT_MAX_CONCURRENT: '65' }, /IMPORT_MAX_CONCURRENT/],
    [{ IMPORT_BODY_LIMIT_BYTES: '1024' }, /IMPORT_BODY_LIMIT_BYTES/],
    [{ IMPORT_BODY_LIMIT_BYTES: String(16 * 1024 * 1024 + 1), IMPORT_MAX_CONCURRENT: '1' }, /IMPORT_BODY_LIMIT_BYTES/],
    [{ IMPORT_MAX_CONCURRENT: '3', IMPORT_BODY_LIMIT_BYTES: String(16 * 1024 * 1024) }, /IMPORT_MAX_CONCURRENT \(3\) × IMPORT_BODY_LIMIT_BYTES \(16777216\) must be at most 33554432/],
    [{ IMPORT_MAX_CONCURRENT: '9' }, /32 MiB of import bodies held at once/],
    [{ IMPORT_RATE_LIMIT_MAX: 'lots' }, /IMPORT_RATE_LIMIT_MAX/],
    [{ IMPORT_DEADLINE_MS: '999' }, /IMPORT_DEADLINE_MS/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
})

t.test('the request deadline defaults to twice the OpenIM call timeout and may not be shorter than it', async (t) => {
  t.equal(loadConfig(required).requestDeadlineMs, 10_000)
  t.equal(loadConfig({ ...required, OPENIM_TIMEOUT_MS: '3000' }).requestDeadlineMs, 6000, 'follows OPENIM_TIMEOUT_MS')
  t.equal(loadConfig({ ...required, REQUEST_DEADLINE_MS: '7000' }).requestDeadlineMs, 7000)
  t.throws(() => loadConfig({ ...required, REQUEST_DEADLINE_MS: '4000' }), { constructor: ConfigError, message: /REQUEST_DEADLINE_MS must not be shorter than OPENIM_TIMEOUT_MS/ })
  t.throws(() => loadConfig({ ...required, REQUEST_DEADLINE_MS: 'soon' }), { constructor: ConfigError, message: /REQUEST_DEADLINE_MS/ })
})

t.test('overload settings: pending OpenIM calls, client connections, the metrics port', async (t) => {
  const defaults = loadConfig(required)
  t.equal(defaults.openim.pool.maxPendingCalls, 256)
  t.equal(defaults.http.maxConnections, 4096)
  t.equal(defaults.metricsPort, undefined)
  const set = loadConfig({ ...required, OPENIM_MAX_PENDING_CALLS: '0', HTTP_MAX_CONNECTIONS: '500', METRICS_PORT: '9091' })
  t.equal(set.openim.pool.maxPendingCalls, 0, '0: never queue, refuse at once when every connection is busy')
  t.equal(set.http.maxConnections, 500)
  t.equal(set.metricsPort, 9091)
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ OPENIM_MAX_PENDING_CALLS: '-1' }, /OPENIM_MAX_PENDING_CALLS/],
    [{ HTTP_MAX_CONNECTIONS: '0' }, /HTTP_MAX_CONNECTIONS/],
    [{ METRICS_PORT: '70000' }, /METRICS_PORT/],
    [{ METRICS_PORT: '3000' }, /METRICS_PORT must differ from PORT/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
})

t.test('connections per client address: a quarter of HTTP_MAX_CONNECTIONS by default, never more than it', async (t) => {
  t.equal(loadConfig(required).http.maxConnectionsPerAddress, 1024)
  t.equal(loadConfig({ ...required, HTTP_MAX_CONNECTIONS: '500' }).http.maxConnectionsPerAddress, 125, 'follows HTTP_MAX_CONNECTIONS')
  t.equal(loadConfig({ ...required, HTTP_MAX_CONNECTIONS: '1' }).http.maxConnectionsPerAddress, 1)
  t.equal(loadConfig({ ...required, HTTP_MAX_CONNECTIONS_PER_ADDRESS: '4096' }).http.maxConnectionsPerAddress, 4096, 'the total: no cap of its own')
  t.equal(loadConfig({ ...required, HTTP_MAX_CONNECTIONS_PER_ADDRESS: '64' }).http.maxConnectionsPerAddress, 64)
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ HTTP_MAX_CONNECTIONS_PER_ADDRESS: '0' }, /HTTP_MAX_CONNECTIONS_PER_ADDRESS/],
    [{ HTTP_MAX_CONNECTIONS_PER_ADDRESS: 'many' }, /HTTP_MAX_CONNECTIONS_PER_ADDRESS/],
    [{ HTTP_MAX_CONNECTIONS_PER_ADDRESS: '5000' }, /HTTP_MAX_CONNECTIONS_PER_ADDRESS must not exceed HTTP_MAX_CONNECTIONS/],
    [{ HTTP_MAX_CONNECTIONS: '100', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '101' }, /HTTP_MAX_CONNECTIONS_PER_ADDRESS must not exceed HTTP_MAX_CONNECTIONS/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
})

t.test('reserved userIDs: OpenIM\'s and openim-chat\'s admin and system accounts by default, always the admin', async (t) => {
  t.same([...loadConfig(required).openim.reservedUserIDs].sort(), ['chatAdmin', 'imAdmin', 'openIM123456', 'openIM654321', 'openIMAdmin'])
  t.same([...loadConfig({ ...required, OPENIM_ADMIN_USER_ID: 'root', OPENIM_RESERVED_USER_IDS: ' bot_1 ,, bot_2' }).openim.reservedUserIDs].sort(), ['bot_1', 'bot_2', 'root'])
  t.throws(() => loadConfig({ ...required, OPENIM_RESERVED_USER_IDS: 'x'.repeat(65) }), { constructor: ConfigError, message: /OPENIM_RESERVED_USER_IDS/ })
})

t.test('end-user tokens: an audience is required unless JWT_ALLOW_ANY_AUDIENCE=true; time and profile-claim settings', async (t) => {
  const base = { OPENIM_API_URL: 'http://openim-server:10002', OPENIM_SECRET: 's3cret', JWT_SECRET: 'x'.repeat(32) }
  t.throws(() => loadConfig(base), { constructor: ConfigError, message: /JWT_AUDIENCE is required.*JWT_ALLOW_ANY_AUDIENCE=true/ })
  t.match(loadConfig({ ...base, JWT_ALLOW_ANY_AUDIENCE: 'true' }).auth.jwt, { audience: undefined, allowAnyAudience: true })
  const tuned = loadConfig({ ...base, JWT_AUDIENCE: 'chat', JWT_CLOCK_TOLERANCE_SECONDS: '0', JWT_MAX_LIFETIME_SECONDS: '3600', JWT_NICKNAME_CLAIM: 'nickname', JWT_FACE_URL_CLAIM: 'avatar' }).auth.jwt
  t.match(tuned, { clockToleranceSeconds: 0, maxLifetimeSeconds: 3600, nicknameClaim: 'nickname', faceUrlClaim: 'avatar' })
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ JWT_AUDIENCE: 'chat', JWT_ALLOW_ANY_AUDIENCE: 'true' }, /JWT_AUDIENCE or JWT_ALLOW_ANY_AUDIENCE=true, not both/],
    [{ JWT_ALLOW_ANY_AUDIENCE: 'yes' }, /JWT_ALLOW_ANY_AUDIENCE/],
    [{ JWT_AUDIENCE: 'chat', JWT_CLOCK_TOLERANCE_SECONDS: '-1' }, /JWT_CLOCK_TOLERANCE_SECONDS/],
    [{ JWT_AUDIENCE: 'chat', JWT_CLOCK_TOLERANCE_SECONDS: '3600' }, /JWT_CLOCK_TOLERANCE_SECONDS/],
    [{ JWT_AUDIENCE: 'chat', JWT_MAX_LIFETIME_SECONDS: '10' }, /JWT_MAX_LIFETIME_SECONDS/],
    [{ JWT_AUDIENCE: 'chat', JWT_NICKNAME_CLAIM: ' ' }, /JWT_NICKNAME_CLAIM/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...base, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
  t.throws(() => loadConfig({ ...base, JWT_SECRET: '', GATEWAY_API_KEYS: 'a:0123456789abcdef', JWT_ALLOW_ANY_AUDIENCE: 'true' }), /JWT_ALLOW_ANY_AUDIENCE.*need/)
})

t.test('RATE_LIMIT_WINDOW is read by @fastify/rate-limit\'s own duration parser', async (t) => {
  for (const [window, ms] of [[' 30s ', 30_000], ['1.5 minutes', 90_000], ['1 day', 86_400_000], ['10 sec', 10_000]] as const) {
    t.equal(loadConfig({ ...required, RATE_LIMIT_WINDOW: window }).rateLimit.windowMs, ms, window)
  }
  for (const window of ['25 hours', '0.5s', '-1 minute']) {
    t.throws(() => loadConfig({ ...required, RATE_LIMIT_WINDOW: window }), { message: /RATE_LIMIT_WINDOW must be between 1 second and 24 hours/ }, window)
  }
})

t.test('tracing settings', async (t) => {
  t.equal(loadConfig(required).tracing, undefined, 'off without an OTLP endpoint')
  t.same(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing,
    { tracesUrl: 'http://collector:4318/v1/traces', headers: {}, serviceName: 'openim-gateway', sampler: 'always_on', ratio: 1 })
  t.equal(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/base/' }).tracing?.tracesUrl,
    'https://otlp.example.com/base/v1/traces', 'the generic endpoint is a base URL')
  t.equal(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).tracing?.tracesUrl,
    'http://b:4318/custom', 'the traces endpoint is used as it is, and wins')
  t.equal(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracing, undefined, 'OTEL_SDK_DISABLED wins')
  t.equal(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing, undefined, 'an empty endpoint is unset')
  t.match(loadConfig({
    ...required,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces',
    OTEL_SERVICE_NAME: 'gateway-eu',
    OTEL_TRACES_SAMPLER: 'traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=abc%3D%3D, X-Dataset = a',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-dataset=b'
  }).tracing, { serviceName: 'gateway-eu', sampler: 'traceidratio', ratio: 0.25, headers: { 'x-honeycomb-team': 'abc==', 'x-dataset': 'b' } })
  t.equal(loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_SAMPLER: 'traceidratio' }).tracing?.ratio, 1, 'ratio 1 by default')
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }, /OTEL_TRACES_SAMPLER=parentbased_always_on is not supported: .*browser/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio/],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, /OTEL_TRACES_SAMPLER_ARG/],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, /OTEL_TRACES_SAMPLER_ARG/],
    [{ OTEL_TRACES_SAMPLER_ARG: '0.1' }, /OTEL_TRACES_SAMPLER_ARG applies only to OTEL_TRACES_SAMPLER=traceidratio/],
    [{ OTEL_SDK_DISABLED: 'yes' }, /OTEL_SDK_DISABLED/],
    [{ OTEL_SERVICE_NAME: 'x'.repeat(300) }, /OTEL_SERVICE_NAME/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL: only http\/protobuf/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: only http\/protobuf/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'just-a-token' }, /OTEL_EXPORTER_OTLP_HEADERS must be comma-separated name=value pairs/],
    [{ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'bad header=1' }, /OTEL_EXPORTER_OTLP_TRACES_HEADERS must be/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'x-key=%E0%A4%A' }, /OTEL_EXPORTER_OTLP_HEADERS: the value of "x-key" is not valid percent-encoding/]
  ]
  for (const [env, message] of refused) {
    t.throws(() => loadConfig({ ...required, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
  }
  t.throws(() => loadConfig({ ...required, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }), /OTEL_TRACES_SAMPLER/, 'checked even while tracing is off')
  try {
    loadConfig({ ...required, OTEL_EXPORTER_OTLP_HEADERS: 'x-key=%E0%A4%A-the-credential' })
  } catch (error) {
    t.notMatch((error as Error).message, 'the-credential', 'a header value never appears in a message')
  }
})

t.test('session settings: token reuse, its least remaining lifetime, the memory store\'s size', async (t) => {
  t.same(loadConfig(required).session, { tokenReuse: 'auto', minRemainingSeconds: undefined, cacheMaxEntries: 100_000 })
  t.same(loadConfig({ ...required, TOKEN_REUSE: 'true', TOKEN_REUSE_MIN_REMAINING_SECONDS: '86400', TOKEN_CACHE_MAX_ENTRIES: '500' }).session,
    { tokenReuse: 'on', minRemainingSeconds: 86_400, cacheMaxEntries: 500 })
  t.equal(loadConfig({ ...required, TOKEN_REUSE: 'false' }).session.tokenReuse, 'off')
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ TOKEN_REUSE: 'yes' }, /TOKEN_REUSE must be auto \(on for OpenIM v3\.8\.1\+ only\), true or false/],
    [{ TOKEN_REUSE_MIN_REMAINING_SECONDS: '59' }, /TOKEN_REUSE_MIN_REMAINING_SECONDS/],
    [{ TOKEN_REUSE_MIN_REMAINING_SECONDS: '1 day' }, /TOKEN_REUSE_MIN_REMAINING_SECONDS/],
    [{ TOKEN_CACHE_MAX_ENTRIES: '0' }, /TOKEN_CACHE_MAX_ENTRIES/],
    [{ TOKEN_CACHE_MAX_ENTRIES: '10000001' }, /TOKEN_CACHE_MAX_ENTRIES/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...required, ...env }), { constructor: ConfigError, message }, JSON.stringify(env))
})
