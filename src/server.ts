import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config/index.js'
import { REDACTED_PATHS, buildApp } from './http/app.js'

function loggerOptions (config: Config) {
  const base = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
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
const tracing = config.tracing === undefined ? undefined : (await import('./tracing/index.js')).startTracing(config.tracing, config.openim.apiUrl)

const app = await buildApp({ config, logger: { ...loggerOptions(config), ...tracing?.loggerOptions } })
tracing?.logTo(app.log)
if (config.auth.disabled) {
  app.log.warn('AUTH_DISABLED=true: anyone who can reach this gateway can obtain any user\'s OpenIM token; use it for local development only')
}
if (config.usesDefaultSecret) {
  app.log.warn('OPENIM_SECRET is one of the defaults OpenIM ships with: change it on the OpenIM server and here before production')
}

closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an unexpected error')
  else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
  await app.close()
  await tracing?.shutdown()
})

try {
  await app.listen({ host: config.host, port: config.port })
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen')
  process.exit(1)
}
