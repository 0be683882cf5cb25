import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config/index.js'
import { buildApp } from './http/app.js'
import { buildMetricsApp } from './http/metrics-app.js'
import { productionLoggerOptions } from './http/logger.js'

function loggerOptions (config: Config) {
  const base = productionLoggerOptions(config.logLevel)
  // JSON lines for machines; pretty only for a person at a terminal (pino-pretty is a dev dependency).
  if (!process.stdout.isTTY) return base
  try {
    import.meta.resolve('pino-pretty')
    return { ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
  } catch {
    return base
  }
}

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

// OpenTelemetry is loaded only when an OTLP endpoint is configured: without one, no tracing code runs.
const tracing = config.tracing === undefined
  ? undefined
  : (await import('./tracing/index.js')).startTracing(config.tracing, config.openim.apiUrl)

// A setting found wrong only once a server answers (a Redis Cluster node behind REDIS_URL) stops the start like one
// found wrong in the environment.
const app = await buildApp({ config, logger: { ...loggerOptions(config), ...tracing?.loggerOptions } }).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
})
tracing?.logTo(app.log)
if (config.auth.disabled) {
  app.log.warn('AUTH_DISABLED=true: anyone who can reach this gateway can obtain any user\'s OpenIM token; ' +
    'use it for local development only')
}
if (config.auth.jwt?.allowAnyAudience === true) {
  app.log.warn('JWT_ALLOW_ANY_AUDIENCE=true: a token the identity provider issued for any of its applications logs its holder in here; ' +
    'set JWT_AUDIENCE instead')
}
if (config.usesDefaultSecret) {
  app.log.warn('OPENIM_SECRET is one of the defaults OpenIM ships with: change it on the OpenIM server and here before production')
}

const metricsApp = config.metricsPort === undefined ? undefined : await buildMetricsApp(config, app.metrics, app.log)

// Past SHUTDOWN_TIMEOUT_MS the requests still running are answered 503 SHUTTING_DOWN (Connection: close)
// instead of being reset, their ids are logged, and the process exits 1. close-with-grace's own delay is
// only a backstop behind this. SIGUSR2 is not a shutdown: operators send it for a heap snapshot (`npm start` and
// the image run node with --heapsnapshot-signal=SIGUSR2), and the gateway keeps serving.
closeWithGrace({ delay: config.shutdownTimeoutMs + 2000, logger: app.log, skip: ['SIGUSR2'] }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
  else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
  const closed = Promise.all([app.close(), metricsApp?.close()]).then(() => true)
  if (await Promise.race([closed, sleep(config.shutdownTimeoutMs, false, { ref: false })])) {
    await tracing?.shutdown()
    return
  }
  const { requestIds, finished } = app.cutUnfinishedRequests()
  app.log.error({ count: requestIds.length, requestIds },
    `shutdown timeout (${config.shutdownTimeoutMs} ms): answered ${requestIds.length} unfinished requests 503`)
  await finished
  await tracing?.shutdown()
  process.exit(1)
})

try {
  await app.listen({ host: config.host, port: config.port })
  if (metricsApp !== undefined) await metricsApp.listen({ host: config.host, port: config.metricsPort })
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen')
  process.exit(1)
}
