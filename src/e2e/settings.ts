import envSchema from 'env-schema'
import Type from 'typebox'
import { ConfigError, httpUrl, withoutCredentials } from '../config/shared.js'

// `npm run e2e`: what it is pointed at, validated once. OpenIM cannot delete users, so nothing is written
// without E2E_ALLOW_WRITES=1.
export const E2eEnv = Type.Object({
  OPENIM_API_URL: Type.String({ pattern: httpUrl, description: 'The OpenIM to check' }),
  OPENIM_SECRET: Type.String({ minLength: 1, description: 'Its secret' }),
  OPENIM_ADMIN_USER_ID: Type.String({ minLength: 1, maxLength: 64, default: 'imAdmin', description: 'Its admin account' }),
  // A running gateway to check, with a key it accepts; unset: the check starts a gateway of its own.
  GATEWAY_URL: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'A running gateway to check (with `GATEWAY_API_KEY`, both or neither); unset: it starts a gateway of its own with ' +
      'the environment\'s settings'
  })),
  GATEWAY_API_KEY: Type.Optional(Type.String({ minLength: 1, description: 'A key that gateway accepts' })),
  E2E_ALLOW_WRITES: Type.Optional(Type.String({
    description: '`1` to let it register its users in OpenIM (which cannot delete them); anything else: exit code 2'
  })),
  // Letters, digits and "_" only, so its users are valid on every OpenIM version; short enough for 64-character IDs.
  E2E_USER_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9_]{1,24}$',
    default: 'gwe2e_',
    description: 'The start of its users\' IDs (1–24 letters, digits or `_`)'
  }),
  E2E_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000, description: 'The most any one call may take' })
})

export type E2eSettings = Type.Static<typeof E2eEnv>

/** A setting that stops the run before anything is written: exit code 2, with the message. */
export class E2eRefusal extends Error {}

export function loadE2eSettings (env: Record<string, string | undefined>): E2eSettings {
  if (env.E2E_ALLOW_WRITES !== '1') {
    throw new E2eRefusal('npm run e2e writes to OpenIM: it registers users (prefixed E2E_USER_PREFIX, gwe2e_ by default) and the ' +
      'doctor\'s probe users, and OpenIM cannot delete users. Set E2E_ALLOW_WRITES=1 to run it.')
  }
  let settings: E2eSettings
  try {
    // As for the gateway, an empty variable counts as unset.
    const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
    settings = envSchema<E2eSettings>({ schema: E2eEnv, data, env: false, dotenv: false })
  } catch (error) {
    throw new E2eRefusal(`invalid configuration: ${(error as Error).message}`)
  }
  try {
    // Parsed here, where a failure names the variable: undici and fetch quote a URL they refuse, password included.
    withoutCredentials('OPENIM_API_URL', settings.OPENIM_API_URL, 'OpenIM authenticates by OPENIM_SECRET alone')
    if (settings.GATEWAY_URL !== undefined) withoutCredentials('GATEWAY_URL', settings.GATEWAY_URL, 'the gateway takes GATEWAY_API_KEY')
  } catch (error) {
    if (error instanceof ConfigError) throw new E2eRefusal(error.message)
    throw error
  }
  if ((settings.GATEWAY_URL === undefined) !== (settings.GATEWAY_API_KEY === undefined)) {
    throw new E2eRefusal('invalid configuration: GATEWAY_URL and GATEWAY_API_KEY go together (a gateway to check and a key it accepts), ' +
      'or neither (the check starts a gateway of its own)')
  }
  return settings
}
