import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'

// deploy/compose/openim-v3.7.yml: OpenIM v3.7.1 (the legacy API) and the gateway, for the e2e workflow's second job.
// No Docker engine runs here: what v3.7.1 needs is checked against its sources, cited below.
const root = new URL('../../', import.meta.url).pathname
const file = `${root}deploy/compose/openim-v3.7.yml`
const text = readFileSync(file, 'utf8')
const services = parse(text).services as Record<string, any>
const environment = (service: string): Record<string, string> => services[service].environment

t.test('dclint finds nothing', async (t) => {
  const lint = spawnSync(process.execPath, [`${root}node_modules/dclint/bin/dclint.cjs`, file], { encoding: 'utf8' })
  t.equal(lint.status, 0, lint.stdout + lint.stderr)
})

t.test('OpenIM v3.7.1 with what it needs, and the gateway built from this repository in front of it', async (t) => {
  t.equal(services['openim-server'].image, 'openim/openim-server:v3.7.1')
  t.ok(existsSync(resolve(dirname(file), services['openim-gateway'].build, 'Dockerfile')), 'the build context is the repository')
  const mounted = (services.mongo.volumes as string[])[0]!.split(':')[0]!
  t.ok(existsSync(resolve(dirname(file), mounted)), 'the Mongo init script of ../../docker-compose.yml')
  // v3.7.1 config/share.yml `env: zookeeper`: services register in ZooKeeper (pkg/common/discoveryregister).
  t.equal(environment('openim-server').IMENV_ZOOKEEPER_ADDRESS, 'zookeeper:2181')
  t.ok(services.zookeeper)
  t.equal(environment('openim-server').IMENV_KAFKA_ADDRESS, 'kafka:9092')
  t.equal(environment('openim-gateway').OPENIM_API_URL, 'http://openim-server:10002')
})

t.test('the Kafka topics v3.7.1\'s health check requires exist before openim-server starts', async (t) => {
  // tools/check-component/main.go:59 at v3.7.1: kafka.Check(..., [ToMongoTopic, ToRedisTopic, ToPushTopic]) fails on a missing topic.
  const command = (services['kafka-topics'].command as string[]).join(' ')
  t.match(command, /for topic in toRedis toMongo toPush; do/)
  t.match(command, /--create --if-not-exists/)
  t.match(command, /--topic "\$\$topic"/, 'compose\'s $$ leaves bash its $topic')
  t.same(services['openim-server'].depends_on['kafka-topics'], { condition: 'service_completed_successfully' })
  t.equal(services['kafka-topics'].restart, 'no')
})

t.test('one secret for OpenIM and the gateway; every credential must be given; health as in the main compose file', async (t) => {
  t.match(environment('openim-server').IMENV_SHARE_SECRET, /^\$\{OPENIM_SECRET:\?[^}]*\}$/)
  // eslint-disable-next-line no-template-curly-in-string -- compose's own ${VAR} interpolation
  t.equal(environment('openim-gateway').OPENIM_SECRET, '${OPENIM_SECRET}')
  const required = new Set([...text.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((match) => match[1]))
  t.same([...required].sort(), ['GATEWAY_API_KEYS', 'MINIO_SECRET_ACCESS_KEY', 'MONGO_PASSWORD', 'MONGO_ROOT_PASSWORD', 'OPENIM_SECRET', 'REDIS_PASSWORD'])
  t.notMatch(text, /openIM123|tuoyun/, 'no default secret')
  const health = services['openim-server'].healthcheck
  t.same(health.test, ['CMD', 'sh', '-c', 'mage check'], 'v3.7.1\'s image installs mage in /usr/local/bin too (its Dockerfile)')
  t.equal(health.start_period, '180s')
  t.notOk('start_interval' in health)
  t.same(services['openim-gateway'].depends_on['openim-server'], { condition: 'service_healthy' })
  t.same(services['openim-server'].ports, ['127.0.0.1:${OPENIM_API_PORT:-10002}:10002'], 'published on the runner\'s loopback only') // eslint-disable-line no-template-curly-in-string -- compose's ${VAR}
})
