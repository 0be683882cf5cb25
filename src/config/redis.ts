import { readFileSync } from 'node:fs'
import Type from 'typebox'
import { commaList, fail, positiveInt } from './shared.js'

// Where the Redis shared by every replica is, in one of three topologies (a standalone server, a primary found
// through Sentinel, a Redis Cluster), with its credentials and TLS. Everything is checked here, once: a
// contradiction (two topologies, credentials in two places, a Cluster with a database) stops the start.
export const RedisEnv = Type.Object({
  REDIS_URL: Type.Optional(Type.String({
    pattern: '^rediss?://[^\\s]+$',
    description: 'A standalone Redis: `redis://` or `rediss://` (TLS), which may carry a user, a password (percent-encoded) and ' +
      '`/<db>`. A Redis Cluster node here stops the start (use `REDIS_CLUSTER_NODES`). See ' +
      '[Several replicas and Redis](../operators/replicas.md#redis-topologies)'
  })),
  REDIS_SENTINELS: Type.Optional(Type.String({
    minLength: 1,
    description: 'A primary found through Sentinel: the sentinels, `host:port,host:port,…` (`[v6]:port` for IPv6), with ' +
      '`REDIS_SENTINEL_MASTER`. The gateway follows a failover by itself'
  })),
  REDIS_SENTINEL_MASTER: Type.Optional(Type.String({
    pattern: '^\\S{1,200}$',
    description: 'The name of the primary the sentinels watch (their `sentinel monitor` line); with `REDIS_SENTINELS` only'
  })),
  REDIS_SENTINEL_USERNAME: Type.Optional(Type.String({
    minLength: 1,
    description: 'The sentinels\' own user, where they need one (not the data nodes\'); with `REDIS_SENTINELS` only'
  })),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({
    minLength: 1,
    description: 'The sentinels\' own password, where they need one (not the data nodes\'); with `REDIS_SENTINELS` only'
  })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({
    minLength: 1,
    description: 'A Redis Cluster: some of its nodes, `host:port,…` (the rest are discovered). Only one of `REDIS_URL`, ' +
      '`REDIS_SENTINELS`, `REDIS_CLUSTER_NODES` may be set'
  })),
  REDIS_USERNAME: Type.Optional(Type.String({
    minLength: 1,
    description: 'The data nodes\' ACL user (needs `REDIS_PASSWORD`); with `REDIS_URL`, not if the URL carries credentials'
  })),
  REDIS_PASSWORD: Type.Optional(Type.String({
    minLength: 1,
    description: 'The data nodes\' password; with `REDIS_URL`, not if the URL carries credentials'
  })),
  REDIS_DB: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 1_000_000,
    description: 'Default: 0, or the `/<db>` of `REDIS_URL`. The database (not with a `/<db>` in `REDIS_URL`; only 0 with ' +
      '`REDIS_CLUSTER_NODES`)'
  })),
  REDIS_TLS: Type.Optional(Type.Boolean({
    description: '`true`: TLS for every Redis connection, sentinels included, where no `rediss://` says it (`true` with ' +
      '`redis://`, or `false` with `rediss://`, stops the start)'
  })),
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({
    minLength: 1,
    description: 'PEM file of the CA that signed the servers\' certificates (instead of `NODE_EXTRA_CA_CERTS`), read at start; ' +
      'only with TLS on'
  })),
  REDIS_TLS_CERT_FILE: Type.Optional(Type.String({
    minLength: 1,
    description: 'PEM file of a client certificate, for servers that ask for one (`tls-auth-clients yes`); with ' +
      '`REDIS_TLS_KEY_FILE`'
  })),
  REDIS_TLS_KEY_FILE: Type.Optional(Type.String({
    minLength: 1,
    description: 'PEM file of that client certificate\'s key; with `REDIS_TLS_CERT_FILE`'
  })),
  REDIS_TLS_SERVERNAME: Type.Optional(Type.String({
    pattern: '^[A-Za-z0-9.-]{1,253}$',
    description: 'The name to expect in the servers\' certificates when it is not the address connected to (Sentinel and ' +
      'Cluster hand out IP addresses)'
  })),
  REDIS_COMMAND_TIMEOUT_MS: positiveInt(50, 10_000, 500,
    'How long one Redis command may take before Redis counts as unavailable and every replica works from memory until a ' +
    'probe finds it back')
})

type RedisEnvValues = Type.Static<typeof RedisEnv>

export interface RedisAddress { host: string, port: number }

export type RedisTopology =
  | { kind: 'standalone', address: RedisAddress }
  | {
    kind: 'sentinel'
    sentinels: RedisAddress[]
    masterName: string
    /** The sentinels' own credentials, when they need them (not the data nodes'). */
    sentinelUsername?: string
    sentinelPassword?: string
  }
  | { kind: 'cluster', nodes: RedisAddress[] }

export interface RedisTls {
  /** PEM contents, read at start-up. */
  ca?: string
  cert?: string
  key?: string
  servername?: string
}

export interface RedisConnectionSettings {
  topology: RedisTopology
  /** The data nodes' credentials and database (from REDIS_URL, or REDIS_USERNAME / REDIS_PASSWORD / REDIS_DB). */
  username?: string
  password?: string
  db: number
  /** For every connection, sentinels included; undefined: plain TCP. */
  tls?: RedisTls
  /** How long one command may take before Redis counts as unavailable (the breaker opens). */
  commandTimeoutMs: number
}

export interface RedisSettings {
  /** Shared by every replica (rate-limit counters, remembered tokens, mint locks); undefined: each replica on its own. */
  redis?: RedisConnectionSettings
}

/** host:port, or [IPv6]:port. */
function address (entry: string, position: number, variable: string): RedisAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(entry)
  const port = Number(match?.[3])
  if (match === null || !(port >= 1 && port <= 65_535)) {
    // An entry pasted from a URL may carry user:password@: it is named by its place, never echoed.
    const carriesCredentials = /[@/]/.test(entry)
    const which = carriesCredentials ? `entry ${position + 1}` : `"${entry.slice(0, 60)}"`
    fail(`${variable} must be comma-separated host:port entries (${which} is not one` +
      `${carriesCredentials ? '; credentials have variables of their own' : ''})`)
  }
  return { host: (match![1] ?? match![2])!, port }
}

function addresses (value: string, variable: string): RedisAddress[] {
  const entries = commaList(value)
  if (entries.length === 0) fail(`${variable} must list at least one host:port`)
  return entries.map((entry, position) => address(entry, position, variable))
}

function readPem (file: string | undefined, variable: string): string | undefined {
  if (file === undefined) return undefined
  // The PEM itself where its path belongs (an environment variable filled from a secret): named, never echoed, for
  // it may be a private key.
  if (/-----BEGIN |[\r\n]/.test(file)) fail(`${variable} must be the path of a PEM file, not the PEM itself (mount it as a file)`)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    return fail(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  if (!text.includes('-----BEGIN ')) fail(`${variable}: ${file} holds no PEM block`)
  return text
}

/** The one topology set, or none; two of them is a contradiction, not a preference. */
function topologyVariable (env: RedisEnvValues): 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES' | undefined {
  const set = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => env[name] !== undefined)
  if (set.length > 1) fail(`only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES may be set (${set.join(' and ')} are)`)
  return set[0]
}

/** A user or password from REDIS_URL, decoded; a stray "%" is a mistake to name, not a stack trace (nor an echo). */
function urlCredential (encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return fail('REDIS_URL\'s user or password is not percent-encoded right: write % as %25 (and @ as %40, : as %3A, / as %2F)')
  }
}

/** What REDIS_URL holds: the server, and the credentials and database it may carry. */
function parseRedisUrl (value: string) {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail('REDIS_URL is not a valid URL (redis://[<user>:<password>@]host:6379[/<db>]; in the user and password, ' +
      'percent-encode @ : / ? # % and spaces)')
  }
  if (url.hostname === '') fail('REDIS_URL must name a host')
  if (url.search !== '' || url.hash !== '') {
    fail('REDIS_URL must not carry a query or fragment: TLS and credentials have variables of their own')
  }
  const db = url.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d{1,7}$/.test(db)) fail('REDIS_URL\'s path must be a database number (/0, /3) or nothing')
  const port = url.port === '' ? 6379 : Number(url.port)
  return {
    address: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port },
    username: url.username === '' ? undefined : urlCredential(url.username),
    password: url.password === '' ? undefined : urlCredential(url.password),
    db: db === '' ? undefined : Number(db),
    tls: url.protocol === 'rediss:'
  }
}

function tlsSettings (env: RedisEnvValues, urlSaysTls: boolean | undefined): RedisTls | undefined {
  if (urlSaysTls === true && env.REDIS_TLS === false) fail('REDIS_TLS=false contradicts REDIS_URL\'s rediss://')
  if (urlSaysTls === false && env.REDIS_TLS === true) fail('REDIS_TLS=true contradicts REDIS_URL\'s redis://: write rediss:// instead')
  const on = urlSaysTls ?? env.REDIS_TLS ?? false
  const files = (['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE', 'REDIS_TLS_SERVERNAME'] as const)
    .filter((name) => env[name] !== undefined)
  if (!on) {
    if (files.length > 0) fail(`${files[0]} is set but TLS is off: use rediss:// in REDIS_URL, or REDIS_TLS=true`)
    return undefined
  }
  if ((env.REDIS_TLS_CERT_FILE === undefined) !== (env.REDIS_TLS_KEY_FILE === undefined)) {
    fail('REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (a client certificate and its key)')
  }
  return {
    ca: readPem(env.REDIS_TLS_CA_FILE, 'REDIS_TLS_CA_FILE'),
    cert: readPem(env.REDIS_TLS_CERT_FILE, 'REDIS_TLS_CERT_FILE'),
    key: readPem(env.REDIS_TLS_KEY_FILE, 'REDIS_TLS_KEY_FILE'),
    servername: env.REDIS_TLS_SERVERNAME
  }
}

export function redisSettings (env: RedisEnvValues): RedisSettings {
  const topologyName = topologyVariable(env)
  if (topologyName === undefined) {
    const stray = Object.keys(RedisEnv.properties)
      .find((name) => name !== 'REDIS_COMMAND_TIMEOUT_MS' && env[name as keyof RedisEnvValues] !== undefined)
    if (stray !== undefined) fail(`${stray} is set but no Redis is: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES`)
    return {}
  }
  if ((env.REDIS_SENTINELS === undefined) !== (env.REDIS_SENTINEL_MASTER === undefined)) {
    fail('REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together (the sentinels, and the name of the primary they watch)')
  }
  if (env.REDIS_SENTINELS === undefined) {
    const stray = (['REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const).find((name) => env[name] !== undefined)
    if (stray !== undefined) fail(`${stray} is only for REDIS_SENTINELS`)
  }
  let topology: RedisTopology
  let { REDIS_USERNAME: username, REDIS_PASSWORD: password, REDIS_DB: db } = env
  let urlSaysTls: boolean | undefined
  if (topologyName === 'REDIS_URL') {
    const url = parseRedisUrl(env.REDIS_URL!)
    if ((url.username !== undefined || url.password !== undefined) && (username !== undefined || password !== undefined)) {
      fail('REDIS_URL carries credentials and REDIS_USERNAME/REDIS_PASSWORD are set too: keep them in one place')
    }
    if (url.db !== undefined && db !== undefined) fail('REDIS_URL names a database and REDIS_DB is set too: keep it in one place')
    topology = { kind: 'standalone', address: url.address }
    username = url.username ?? username
    password = url.password ?? password
    db = url.db ?? db
    urlSaysTls = url.tls
  } else if (topologyName === 'REDIS_SENTINELS') {
    topology = {
      kind: 'sentinel',
      sentinels: addresses(env.REDIS_SENTINELS!, 'REDIS_SENTINELS'),
      masterName: env.REDIS_SENTINEL_MASTER!,
      sentinelUsername: env.REDIS_SENTINEL_USERNAME,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD
    }
  } else {
    if ((db ?? 0) !== 0) fail('REDIS_DB must be 0 (or unset) with REDIS_CLUSTER_NODES: a Redis Cluster has database 0 only')
    topology = { kind: 'cluster', nodes: addresses(env.REDIS_CLUSTER_NODES!, 'REDIS_CLUSTER_NODES') }
  }
  if (username !== undefined && password === undefined) fail('REDIS_USERNAME needs REDIS_PASSWORD (Redis ACL users log in with both)')
  return {
    redis: {
      topology,
      username,
      password,
      db: db ?? 0,
      tls: tlsSettings(env, urlSaysTls),
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS
    }
  }
}

/** The passwords these settings hold, for tools that make sure none is ever printed. */
export function redisSecrets (settings: RedisConnectionSettings | undefined): string[] {
  if (settings === undefined) return []
  const sentinelPassword = settings.topology.kind === 'sentinel' ? settings.topology.sentinelPassword : undefined
  return [settings.password, sentinelPassword, settings.tls?.key].filter((secret): secret is string => secret !== undefined)
}
