import { randomBytes } from 'node:crypto'
import envSchema from 'env-schema'
import Type from 'typebox'
import { startEmulator } from './emulator.js'

// `npm run emulator`: a stand-in OpenIM REST API for front-end developers and other services.
const EmulatorEnv = Type.Object({
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 10002 }),
  OPENIM_EMULATOR_MODE: Type.Union([Type.Literal('current'), Type.Literal('v3.8.0'), Type.Literal('legacy')], { default: 'current' }),
  OPENIM_EMULATOR_LATENCY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 0 }),
  // A deliberately wrong clock, to see what a skewed OpenIM looks like (npm run doctor reports it).
  OPENIM_EMULATOR_CLOCK_SKEW_SECONDS: Type.Integer({ minimum: -86_400, maximum: 86_400, default: 0 }),
  OPENIM_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  OPENIM_ADMIN_USER_ID: Type.String({ minLength: 1, default: 'imAdmin' })
})

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
