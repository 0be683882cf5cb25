import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from './config.js'
import { demoConfig } from './demo-config.js'
import { startEmulator } from './emulator/emulator.js'
import { buildApp } from './http/app.js'

// `npm run demo`: the OpenIM emulator and the gateway wired to it, in one process, for a first try.
const mode = process.env.OPENIM_EMULATOR_MODE === 'legacy' ? 'legacy' : 'current'
const secret = randomBytes(16).toString('hex')
let app: FastifyInstance | undefined
try {
  const emulator = await startEmulator({ mode, secret })
  const config = demoConfig(emulator.url, {
    OPENIM_SECRET: secret,
    PORT: process.env.PORT ?? '3000',
    HOST: process.env.HOST ?? '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info'
  })
  app = await buildApp({ config })
  app.addHook('onClose', async () => { await emulator.close() })
  const address = await app.listen({ host: config.host, port: config.port })
  console.log(`
  openim-gateway demo: gateway ${address}, OpenIM emulator (${mode} API) ${emulator.url}

  Swagger UI:  ${address}/docs
  Provision:   curl -s -X POST ${address}/provision -H 'content-type: application/json' \\
                 -d '{"userID":"alice_42","platformID":5,"nickname":"Alice"}'
  Stop:        Ctrl+C
`)
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app?.close().then(() => process.exit(0)) })
}
