import envSchema from 'env-schema'
import Type from 'typebox'
import { AuthEnv, authSettings, type AuthSettings } from './auth.js'
import { LimitsEnv, limitsSettings, type LimitsSettings } from './limits.js'
import { OpenImEnv, openImSettings, type OpenImSettings } from './openim.js'
import { RedisEnv, redisSettings, type RedisSettings } from './redis.js'
import { ServerEnv, serverSettings, type ServerSettings } from './server.js'
import { SessionEnv, sessionSettings, type SessionSettings } from './session.js'
import { UsersEnv, usersSettings, type UsersSettings } from './users.js'
import { TracingEnv, tracingSettings, type TracingSettings } from './tracing.js'
import { ConfigError } from './shared.js'

// Every setting the gateway reads, in one schema assembled from one group per concern: env-schema (ajv)
// validates it once at start-up and a bad value stops the process with a message naming the variable.
// Nothing else reads process.env.
export const EnvSchema = Type.Object({
  ...OpenImEnv.properties,
  ...ServerEnv.properties,
  ...AuthEnv.properties,
  ...LimitsEnv.properties,
  ...RedisEnv.properties,
  ...UsersEnv.properties,
  ...TracingEnv.properties,
  ...SessionEnv.properties
})

export type Env = Type.Static<typeof EnvSchema>

export type Config = OpenImSettings & ServerSettings & AuthSettings & LimitsSettings & RedisSettings & UsersSettings & TracingSettings &
  SessionSettings

export { ConfigError } from './shared.js'
export type { ApiKey, AuthConfig, JwtKeySource } from './auth.js'
export { callerAuthConfigured } from './auth.js'
export type { TracingConfig } from './tracing.js'
export type { RedisConnectionSettings, RedisTopology } from './redis.js'
export { redisSecrets } from './redis.js'
export { secretFingerprint } from './openim.js'

export interface LoadOptions {
  /** false only for tools that report on the settings (npm run doctor); the gateway never starts without it. */
  requireCallerAuth?: boolean
}

export function loadConfig (env: Record<string, string | undefined> = process.env, options: LoadOptions = {}): Config {
  let parsed: Env
  try {
    // Empty strings mean "unset" for optional variables: compose files often pass VAR= through.
    const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
    parsed = envSchema<Env>({ schema: EnvSchema, data, env: false, dotenv: false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`)
  }
  return {
    ...openImSettings(parsed),
    ...serverSettings(parsed),
    ...authSettings(parsed, options),
    ...limitsSettings(parsed),
    ...redisSettings(parsed),
    ...usersSettings(parsed),
    ...tracingSettings(parsed),
    ...sessionSettings(parsed)
  }
}
