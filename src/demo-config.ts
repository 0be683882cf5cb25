import { randomBytes } from 'node:crypto'
import { loadConfig, type Config } from './config/index.js'

export const DEMO_KEY_NAME = 'demo'

/** A fresh random API key for the demo: the demo is secured like production, with a key it prints. */
export const randomApiKey = () => randomBytes(18).toString('base64url')

/** A valid configuration pointing at a local emulator, validated like any other (demo, OpenAPI export). */
export function demoConfig (openimApiUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    OPENIM_API_URL: openimApiUrl,
    OPENIM_SECRET: randomBytes(16).toString('hex'),
    GATEWAY_API_KEYS: `${DEMO_KEY_NAME}:${randomApiKey()}`,
    LOG_LEVEL: 'info',
    ...overrides
  })
}
