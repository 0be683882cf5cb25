import { randomBytes } from 'node:crypto'
import { loadConfig, type Config } from '../config/index.js'
import type { DemoJwt } from './jwt.js'

export const DEMO_KEY_NAME = 'demo'

/** A fresh random API key for the demo: the demo is secured like production, with a key it prints. */
export const randomApiKey = () => randomBytes(18).toString('base64url')

/** A valid configuration pointing at a local emulator, validated like any other (demo, OpenAPI export). */
export function demoConfig (openimApiUrl: string, overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    OPENIM_API_URL: openimApiUrl,
    OPENIM_SECRET: randomBytes(16).toString('hex'),
    GATEWAY_API_KEYS: `${DEMO_KEY_NAME}:${randomApiKey()}`,
    LOG_LEVEL: 'info',
    ...overrides
  })
}

const OWN_JWT_SOURCES = ['JWT_JWKS_URL', 'JWT_PUBLIC_KEY', 'JWT_SECRET']

/** The public addresses the demo hands to SDKs in /provision answers: the emulator's REST API and where OpenIM's websocket would be. */
export const emulatorPublicUrls = (emulatorUrl: string) => ({
  OPENIM_PUBLIC_API_URL: emulatorUrl,
  OPENIM_PUBLIC_WS_URL: `${emulatorUrl.replace(/^http/, 'ws')}/msg_gateway`
})

/**
 * The demo's settings: every gateway variable of `env` is passed through (validated like `npm start`), over
 * the demo's defaults (loopback, its printed API key, its HS256 end-user path, the emulator's public URLs for
 * SDKs); only OpenIM is always the emulator, which is the point of the demo. With a JWT key source of its own,
 * the demo's JWT path is off.
 */
export function demoEnvironment (
  env: Record<string, string | undefined>,
  demo: { emulatorUrl: string, openimSecret: string, apiKey: string, jwt: DemoJwt }
) {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const ownJwt = OWN_JWT_SOURCES.some((name) => name in set)
  return {
    HOST: '127.0.0.1',
    PORT: '3000',
    GATEWAY_API_KEYS: `${DEMO_KEY_NAME}:${demo.apiKey}`,
    ...(!ownJwt && { JWT_SECRET: demo.jwt.secret, JWT_ISSUER: demo.jwt.issuer, JWT_AUDIENCE: demo.jwt.audience }),
    ...emulatorPublicUrls(demo.emulatorUrl),
    ...set,
    OPENIM_API_URL: demo.emulatorUrl,
    OPENIM_SECRET: demo.openimSecret
  }
}

/** Whether the configuration accepts the demo's end-user tokens (it does unless the caller brought their own JWT settings). */
export function acceptsDemoTokens (config: Config, jwt: DemoJwt): boolean {
  const settings = config.auth.jwt
  return settings?.source.kind === 'secret' && settings.source.secret === jwt.secret &&
    settings.issuer === jwt.issuer && (settings.audience ?? []).includes(jwt.audience)
}
