import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { ConfigError, loadConfig } from '../../src/config/index.js'

const root = new URL('../../', import.meta.url).pathname
const text = readFileSync(`${root}docker-compose.yml`, 'utf8')
const compose = parse(text)
const services = compose.services as Record<string, any>
const environment = (service: string): Record<string, string> => services[service].environment
const exampleText = readFileSync(`${root}.env.example`, 'utf8')
const example: Record<string, string> = Object.fromEntries([...exampleText.matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((match) => [match[1], match[2]]))

/**
 * Compose's interpolation (compose-spec "Interpolation"): ${VAR}, ${VAR:-default} / ${VAR-default}, and
 * ${VAR:?message} / ${VAR?message}, which stop `docker compose up` when VAR is unset (either) or empty (":").
 */
function interpolate (input: string, values: Record<string, string | undefined>): { text: string, refused: string[] } {
  const refused: string[] = []
  const text = input.replace(/\$\{([A-Z0-9_]+)(?:(:?)([-?])([^}]*))?\}/g, (_match, name: string, colon: string, kind?: string, argument?: string) => {
    const value = values[name]
    const missing = value === undefined || (colon === ':' && value === '')
    if (kind === '?' && missing) refused.push(name)
    return kind === '-' && missing ? argument ?? '' : value ?? ''
  })
  return { text, refused }
}

/** The gateway's environment as compose gives it from these .env values. */
const gatewayEnvironment = (values: Record<string, string>) =>
  Object.fromEntries(Object.entries(environment('openim-gateway')).map(([name, value]) => [name, interpolate(String(value), values).text]))

/** .env.example as the README says to fill it in. */
const filled = {
  ...example,
  OPENIM_SECRET: randomBytes(32).toString('hex'),
  GATEWAY_API_KEYS: `bff:${randomBytes(24).toString('hex')}`,
  ...Object.fromEntries(['MONGO_ROOT_PASSWORD', 'MONGO_PASSWORD', 'REDIS_PASSWORD', 'MINIO_SECRET_ACCESS_KEY'].map((name) => [name, randomBytes(16).toString('hex')]))
}

t.test('dclint finds nothing', async (t) => {
  const lint = spawnSync(process.execPath, [`${root}node_modules/dclint/bin/dclint.cjs`, `${root}docker-compose.yml`], { encoding: 'utf8' })
  t.equal(lint.status, 0, lint.stdout + lint.stderr)
})

t.test('the stack: OpenIM\'s dependencies, openim-server, openim-chat and the gateway, all on one network', async (t) => {
  t.same(Object.keys(services).sort(), ['etcd', 'jaeger', 'kafka', 'minio', 'mongo', 'openim-chat', 'openim-gateway', 'openim-server', 'redis'])
  t.equal(services['openim-server'].image, 'openim/openim-server:v3.8.3-patch.15')
  t.equal(services['openim-chat'].image, 'openim/openim-chat:v1.8.4-patch.5')
  t.equal(services.mongo.image, 'mongo:7.0.28')
  t.equal(services.redis.image, 'redis:7.0.0')
  t.equal(services.kafka.image, 'bitnamilegacy/kafka:3.5.1')
  t.equal(services.etcd.image, 'bitnamilegacy/etcd:3.5.13')
  t.equal(services.minio.image, 'minio/minio:RELEASE.2024-01-11T07-46-16Z')
  t.equal(services['openim-gateway'].build, '.')
  t.same(Object.keys(compose.networks), ['openim'])
  t.equal(compose.networks.openim.driver, 'bridge')
  for (const [name, service] of Object.entries(services)) t.same(service.networks, ['openim'], name)
})

t.test('one variable, OPENIM_SECRET, is the secret of the server, chat and gateway', async (t) => {
  t.match(environment('openim-server').IMENV_SHARE_SECRET, /^\$\{OPENIM_SECRET(:\?[^}]*)?\}$/)
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.equal(environment('openim-chat').CHATENV_SHARE_OPENIM_SECRET, '${OPENIM_SECRET}')
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.equal(environment('openim-gateway').OPENIM_SECRET, '${OPENIM_SECRET}')
  t.match(text, /\$\{OPENIM_SECRET:\?/, 'compose refuses to start without it')
  const secretLike = Object.values(services).flatMap((service) => Object.values(service.environment ?? {}) as string[])
    .filter((value) => /openIM123|tuoyun/.test(String(value)))
  t.same(secretLike, [], 'no default secret in the file')
})

t.test('the gateway is wired to openim-server, its public addresses and the stack\'s Redis', async (t) => {
  const gateway = services['openim-gateway']
  const env = environment('openim-gateway')
  t.equal(env.OPENIM_API_URL, 'http://openim-server:10002')
  t.ok(env.OPENIM_PUBLIC_API_URL)
  t.ok(env.OPENIM_PUBLIC_WS_URL)
  t.match(env.REDIS_URL, /^redis:\/\/:\$\{REDIS_PASSWORD\}@redis:6379/)
  t.match(env.GATEWAY_API_KEYS, /^\$\{GATEWAY_API_KEYS:\?/, 'secure by default: keys are required')
  t.same(gateway.depends_on['openim-server'], { condition: 'service_healthy' })
  t.equal(environment('openim-chat').CHATENV_SHARE_OPENIM_APIURL, 'http://openim-server:10002')
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.same(gateway.ports, ['0.0.0.0:${GATEWAY_PORT:-3000}:3000', `127.0.0.1:\${GATEWAY_METRICS_PORT:-9091}:${env.METRICS_PORT}`],
    'the API on every interface, /metrics on its own port and only on the host\'s loopback')
  t.equal(gateway.init, true)
})

t.test('healthchecks run commands that exist in their images', async (t) => {
  // openim-server's image installs mage in /usr/local/bin; chat v1.8.4-patch.5's copies it to its WORKDIR
  // /openim-chat (COPY --from=builder /openim-chat/mage ./mage), where `mage` alone is not found.
  t.same(services['openim-server'].healthcheck.test, ['CMD', 'sh', '-c', 'mage check'])
  t.same(services['openim-chat'].healthcheck.test, ['CMD', 'sh', '-c', './mage check'])
})

t.test('Kafka is configured only through variables the Bitnami image reads', async (t) => {
  const unread = Object.keys(environment('kafka')).filter((name) => !name.startsWith('KAFKA_CFG_'))
  t.same(unread, [], 'the image maps only KAFKA_CFG_* to server.properties')
  t.equal(environment('kafka').KAFKA_CFG_NUM_PARTITIONS, '8')
})

t.test('data lives in named volumes', async (t) => {
  for (const service of ['mongo', 'redis', 'etcd', 'kafka', 'minio']) {
    const dataVolume = (services[service].volumes as string[]).find((volume) => !volume.startsWith('./'))!
    const name = dataVolume.split(':')[0]!
    t.ok(name in compose.volumes, `${service} uses the named volume ${name}`)
  }
})

t.test('.env.example lists every variable the compose file uses, with a loud note about the secret', async (t) => {
  const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((match) => match[1]))
  for (const variable of used) t.ok(variable! in example, `${variable} is in .env.example`)
  t.match(exampleText, /FILL IN EVERY SECRET/)
  t.match(exampleText, /openssl rand -hex 32/)
})

t.test('.env.example holds no credential: a stack started from it unedited refuses to start, naming each one', async (t) => {
  const credentials = Object.keys(example).filter((name) => /SECRET|PASSWORD|API_KEYS/.test(name))
  t.same(credentials.sort(), ['GATEWAY_API_KEYS', 'MINIO_SECRET_ACCESS_KEY', 'MONGO_PASSWORD', 'MONGO_ROOT_PASSWORD', 'OPENIM_SECRET', 'REDIS_PASSWORD'])
  for (const name of credentials) t.equal(example[name], '', `${name} is empty`)
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.same([...new Set(interpolate(text, example).refused)].sort(), credentials.sort(), 'compose\'s ${VAR:?} guard stops `up` for every one')
  t.same(interpolate(text, filled).refused, [], 'filled in, the stack starts')
})

t.test('the gateway refuses the examples\' placeholders even when compose lets them through', async (t) => {
  t.equal(loadConfig(gatewayEnvironment(filled)).auth.apiKeys.length, 1, 'filled in as the README says, the gateway starts')
  const placeholders = [
    { OPENIM_SECRET: 'change-me-generate-with-openssl-rand-hex-32' },
    { GATEWAY_API_KEYS: 'bff:change-me-to-a-random-key-of-48-hex-chars' }
  ]
  for (const placeholder of placeholders) {
    t.same(interpolate(text, { ...filled, ...placeholder }).refused, [], 'set, so compose starts it')
    t.throws(() => loadConfig(gatewayEnvironment({ ...filled, ...placeholder })), { constructor: ConfigError, message: /is a placeholder/ }, Object.keys(placeholder).join())
  }
})

t.test('an optional "tracing" profile runs Jaeger 2.x; the gateway sends it traces once the endpoint is set', async (t) => {
  const jaeger = services.jaeger
  t.match(jaeger.image, /^jaegertracing\/jaeger:2\.\d+\.\d+$/, 'Jaeger v2 (the v1 all-in-one image reached end of life)')
  t.same(jaeger.profiles, ['tracing'])
  t.same(Object.entries(services).filter(([, service]) => service.profiles !== undefined).map(([name]) => name), ['jaeger'], 'the default stack is unchanged')
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.same(jaeger.ports, ['127.0.0.1:${JAEGER_UI_PORT:-16686}:16686'], 'the UI, which has no login, on localhost only')
  t.notOk('jaeger' in (services['openim-gateway'].depends_on ?? {}), 'the gateway starts without the profile')

  // The gateway's environment as compose resolves it from .env.example (filled in), with the documented endpoint.
  t.equal(loadConfig(gatewayEnvironment(filled)).tracing, undefined, 'off by default')
  t.match(loadConfig(gatewayEnvironment({ ...filled, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' })).tracing,
    { tracesUrl: 'http://jaeger:4318/v1/traces', sampler: 'always_on' }, 'Jaeger\'s OTLP/HTTP port on the stack\'s network')
  t.match(exampleText, /http:\/\/jaeger:4318/, '.env.example says which endpoint to set')
})

/** A compose duration ("90s", "2m", "1m30s") in seconds. */
function seconds (duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(h|m|s|ms)/g)]
  if (parts.map((part) => part[0]).join('') !== duration) throw new Error(`not a compose duration: ${duration}`)
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001 } as const
  return parts.reduce((sum, [, value, suffix]) => sum + Number(value) * unit[suffix as keyof typeof unit], 0)
}

t.test('a cold first boot cannot fail the stack: openim-server\'s health has a start period of 120 s or more', async (t) => {
  const health = services['openim-server'].healthcheck
  t.ok(seconds(health.start_period) >= 120, `start_period ${health.start_period}`)
  t.ok(seconds(services['openim-chat'].healthcheck.start_period) >= 120, 'chat builds its magefile on its first check too')
  for (const [name, service] of Object.entries(services)) {
    t.notOk('start_interval' in (service.healthcheck ?? {}), `${name}: no start_interval (older Docker Engines refuse it)`)
  }
})

t.test('depends_on is consistent: what waits for health waits for a service that has a health check', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {}) as Array<[string, { condition: string }]>) {
      t.ok(dependency in services, `${name} → ${dependency} exists`)
      if (condition === 'service_healthy') t.ok(services[dependency].healthcheck, `${name} waits for ${dependency}'s health check`)
      if (dependency === 'openim-server') t.equal(condition, 'service_healthy', `${name} waits until openim-server is healthy`)
    }
  }
  t.same(services['openim-gateway'].depends_on, { 'openim-server': { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } })
  t.same(services['openim-chat'].depends_on, {
    etcd: { condition: 'service_started' },
    mongo: { condition: 'service_healthy' },
    'openim-server': { condition: 'service_healthy' },
    redis: { condition: 'service_healthy' }
  }, 'chat uses Mongo, Redis and etcd itself, as openim-server does')
})
