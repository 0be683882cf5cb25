import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from './config/index.js'
import { DEMO_KEY_NAME, demoConfig, randomApiKey } from './demo-config.js'
import { startEmulator } from './emulator/emulator.js'
import { EMULATOR_MODES } from './emulator/modes.js'
import { buildApp } from './http/app.js'

// `npm run demo`: the OpenIM emulator and the gateway wired to it, in one process, for a first try.
const mode = EMULATOR_MODES.find((candidate) => candidate === process.env.OPENIM_EMULATOR_MODE) ?? 'current'
const secret = randomBytes(16).toString('hex')
const apiKey = randomApiKey()
let app: FastifyInstance | undefined
try {
  const emulator = await startEmulator({ mode, secret })
  const config = demoConfig(emulator.url, {
    OPENIM_SECRET: secret,
    GATEWAY_API_KEYS: `${DEMO_KEY_NAME}:${apiKey}`,
    PORT: process.env.PORT ?? '3000',
    HOST: process.env.HOST ?? '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info'
  })
  app = await buildApp({ config })
  app.addHook('onClose', async () => { await emulator.close() })
  const address = await app.listen({ host: config.host, port: config.port })
  console.log(`
  openim-gateway demo: gateway ${address}, OpenIM emulator (${mode} API) ${emulator.url}

  Swagger UI:  ${address}/docs   (Authorize → apiKey: ${apiKey})
  API key:     ${apiKey}   (caller "${DEMO_KEY_NAME}", new on every start)
  Provision:   curl -s -X POST ${address}/provision -H 'content-type: application/json' \\
                 -H 'x-api-key: ${apiKey}' -d '{"userID":"alice_42","platformID":5,"nickname":"Alice"}'
  Stop:        Ctrl+C
`)
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app?.close().then(() => process.exit(0)) })
}
