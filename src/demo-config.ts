import { randomBytes } from 'node:crypto'
import { loadConfig, type Config } from './config.js'

/** A valid configuration pointing at a local emulator, validated like any other (demo, OpenAPI export). */
export function demoConfig (openimApiUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    OPENIM_API_URL: openimApiUrl,
    OPENIM_SECRET: randomBytes(16).toString('hex'),
    LOG_LEVEL: 'info',
    ...overrides
  })
}
