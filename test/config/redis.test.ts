import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig, redisSecrets } from '../../src/config/index.js'

const required = { OPENIM_API_URL: 'http://openim-server:10002', OPENIM_SECRET: 's3cret', GATEWAY_API_KEYS: 'billing:0123456789abcdef' }
const redis = (env: Record<string, string>) => loadConfig({ ...required, ...env }).redis

const fixtures = new URL('../fixtures/redis-tls/', import.meta.url).pathname

t.test('a standalone Redis from REDIS_URL, with the user, password and database it carries', async (t) => {
  t.equal(redis({}), undefined)
  t.same(redis({ REDIS_URL: 'redis://gateway:p%40ss@redis.internal:6380/3' }), {
    topology: { kind: 'standalone', address: { host: 'redis.internal', port: 6380 } },
    username: 'gateway',
    password: 'p@ss',
    db: 3,
    tls: undefined,
    commandTimeoutMs: 500
  })
  t.match(redis({ REDIS_URL: 'redis://[::1]' }), { topology: { address: { host: '::1', port: 6379 } }, db: 0 })
  t.match(redis({ REDIS_URL: 'redis://redis', REDIS_PASSWORD: 'from-a-secret', REDIS_DB: '2' }), { password: 'from-a-secret', db: 2 },
    'credentials and database may come from their own variables instead')
  t.match(redis({ REDIS_URL: 'rediss://redis', REDIS_TLS_CA_FILE: `${fixtures}ca.pem`, REDIS_TLS_SERVERNAME: 'redis.internal' }),
    { tls: { ca: /BEGIN CERTIFICATE/, servername: 'redis.internal' } })
  t.equal(redis({ REDIS_URL: 'redis://redis', REDIS_COMMAND_TIMEOUT_MS: '2000' })?.commandTimeoutMs, 2000)
})

t.test('Sentinel and Cluster settings as read', async (t) => {
  const sentinel = redis({
    REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1:26379,[fd00::2]:26379',
    REDIS_SENTINEL_MASTER: 'mymaster',
    REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    REDIS_PASSWORD: 'data-secret',
    REDIS_DB: '1',
    REDIS_TLS: 'true',
    REDIS_TLS_CA_FILE: `${fixtures}ca.pem`,
    REDIS_TLS_CERT_FILE: `${fixtures}client.pem`,
    REDIS_TLS_KEY_FILE: `${fixtures}client-key.pem`
  })
  t.match(sentinel, {
    topology: {
      kind: 'sentinel',
      sentinels: [{ host: 'sentinel-0', port: 26379 }, { host: 'sentinel-1', port: 26379 }, { host: 'fd00::2', port: 26379 }],
      masterName: 'mymaster',
      sentinelPassword: 'sentinel-secret'
    },
    password: 'data-secret',
    db: 1,
    tls: { ca: /BEGIN CERTIFICATE/, cert: /BEGIN CERTIFICATE/, key: /BEGIN (EC )?PRIVATE KEY/ }
  })
  t.same(redisSecrets(sentinel).slice(0, 2), ['data-secret', 'sentinel-secret'], 'the passwords, for the tools that scrub them')

  t.match(redis({ REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379', REDIS_USERNAME: 'gateway', REDIS_PASSWORD: 'pw', REDIS_DB: '0' }), {
    topology: { kind: 'cluster', nodes: [{ host: 'redis-0', port: 6379 }, { host: 'redis-1', port: 6379 }] },
    username: 'gateway',
    password: 'pw',
    db: 0
  })
})

t.test('malformed or contradictory settings stop the start, naming the variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-config-'))
  writeFileSync(join(dir, 'not-pem.txt'), 'hello')
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: 'http://redis:6379' }, /REDIS_URL/],
    [{ REDIS_URL: 'redis://redis/x' }, /REDIS_URL's path must be a database number/],
    [{ REDIS_URL: 'redis://redis?tls=true' }, /REDIS_URL must not carry a query/],
    [{ REDIS_URL: 'redis://redis', REDIS_CLUSTER_NODES: 'a:1' }, /only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES.*REDIS_URL and REDIS_CLUSTER_NODES/],
    [{ REDIS_SENTINELS: 'a:26379', REDIS_CLUSTER_NODES: 'a:1' }, /only one of/],
    [{ REDIS_SENTINELS: 'a:26379' }, /REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together/],
    [{ REDIS_SENTINEL_MASTER: 'mymaster', REDIS_URL: 'redis://redis' }, /REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together/],
    [{ REDIS_SENTINELS: 'a', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS must be comma-separated host:port entries \("a"/],
    [{ REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS/],
    [{ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS must list at least one host:port/],
    [{ REDIS_URL: 'redis://redis', REDIS_SENTINEL_PASSWORD: 'x' }, /REDIS_SENTINEL_PASSWORD is only for REDIS_SENTINELS/],
    [{ REDIS_CLUSTER_NODES: 'a:6379', REDIS_DB: '2' }, /REDIS_DB must be 0 .* with REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: 'a:6379,b' }, /REDIS_CLUSTER_NODES must be comma-separated host:port/],
    [{ REDIS_URL: 'redis://:pw@redis', REDIS_PASSWORD: 'other' }, /REDIS_URL carries credentials and REDIS_USERNAME\/REDIS_PASSWORD are set too/],
    [{ REDIS_URL: 'redis://redis/1', REDIS_DB: '2' }, /REDIS_URL names a database and REDIS_DB is set too/],
    [{ REDIS_URL: 'redis://redis', REDIS_USERNAME: 'gateway' }, /REDIS_USERNAME needs REDIS_PASSWORD/],
    [{ REDIS_PASSWORD: 'pw' }, /REDIS_PASSWORD is set but no Redis is/],
    [{ REDIS_TLS: 'true' }, /REDIS_TLS is set but no Redis is/],
    [{ REDIS_URL: 'rediss://redis', REDIS_TLS: 'false' }, /REDIS_TLS=false contradicts REDIS_URL's rediss:\/\//],
    [{ REDIS_URL: 'redis://redis', REDIS_TLS: 'true' }, /REDIS_TLS=true contradicts REDIS_URL's redis:\/\//],
    [{ REDIS_URL: 'redis://redis', REDIS_TLS_CA_FILE: `${fixtures}ca.pem` }, /REDIS_TLS_CA_FILE is set but TLS is off/],
    [{ REDIS_URL: 'rediss://redis', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }, /REDIS_TLS_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/],
    [{ REDIS_URL: 'rediss://redis', REDIS_TLS_CA_FILE: join(dir, 'not-pem.txt') }, /REDIS_TLS_CA_FILE: .* holds no PEM block/],
    [{ REDIS_URL: 'rediss://redis', REDIS_TLS_CERT_FILE: `${fixtures}client.pem` }, /REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together/],
    [{ REDIS_URL: 'rediss://redis', REDIS_TLS_SERVERNAME: 'not a name' }, /REDIS_TLS_SERVERNAME/],
    [{ REDIS_TLS: 'maybe', REDIS_URL: 'rediss://redis' }, /REDIS_TLS/],
    [{ REDIS_URL: 'redis://redis', REDIS_COMMAND_TIMEOUT_MS: '10' }, /REDIS_COMMAND_TIMEOUT_MS/],
    [{ REDIS_URL: 'redis://redis', REDIS_COMMAND_TIMEOUT_MS: '10001' }, /REDIS_COMMAND_TIMEOUT_MS/]
  ]
  for (const [env, message] of refused) {
    let error: unknown
    try {
      loadConfig({ ...required, ...env })
    } catch (thrown) {
      error = thrown
    }
    t.ok(error instanceof ConfigError, `${JSON.stringify(env)}: a ConfigError`)
    t.match((error as Error | undefined)?.message, message, JSON.stringify(env))
  }
})

t.test('no message names a password', async (t) => {
  for (const env of [{ REDIS_URL: 'redis://:hunter2-pw@redis', REDIS_PASSWORD: 'other' }, { REDIS_URL: 'redis://:hunter2-pw@redis', REDIS_DB: '1', REDIS_TLS: 'false' }]) {
    try {
      loadConfig({ ...required, ...env, REDIS_URL: env.REDIS_URL.replace('redis://', 'rediss://') })
    } catch (error) {
      t.notMatch((error as Error).message, 'hunter2-pw')
    }
  }
})
