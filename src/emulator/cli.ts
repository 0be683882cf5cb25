import { randomBytes } from 'node:crypto'
import envSchema from 'env-schema'
import Type from 'typebox'
import { startEmulator } from './emulator.js'
import { EmulatorEnv } from './env.js'

// `npm run emulator`: a stand-in OpenIM REST API for front-end developers and other services.
let env: Type.Static<typeof EmulatorEnv>
try {
  // As for the gateway, an empty variable counts as unset (`OPENIM_SECRET= npm run emulator` picks a random secret).
  const data = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== ''))
  env = envSchema<Type.Static<typeof EmulatorEnv>>({ schema: EmulatorEnv, data, env: false, dotenv: false })
} catch (error) {
  console.error(`invalid configuration: ${(error as Error).message}`)
  process.exit(1)
}
const secret = env.OPENIM_SECRET ?? randomBytes(12).toString('hex')
const emulator = await startEmulator({
  mode: env.OPENIM_EMULATOR_MODE,
  secret,
  adminUserID: env.OPENIM_ADMIN_USER_ID,
  latencyMs: env.OPENIM_EMULATOR_LATENCY_MS,
  clockSkewSeconds: env.OPENIM_EMULATOR_CLOCK_SKEW_SECONDS,
  port: env.PORT,
  host: env.HOST
})
console.log(`OpenIM emulator (${emulator.mode} API) listening on ${emulator.url}`)
const secretSource = env.OPENIM_SECRET === undefined ? `${secret} (random: set OPENIM_SECRET to choose one)` : 'from OPENIM_SECRET'
console.log(`admin userID ${env.OPENIM_ADMIN_USER_ID}; secret ${secretSource}`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void emulator.close().then(() => process.exit(0)) })
}
