import { randomBytes } from 'node:crypto'
import { loadConfig } from '../config/index.js'
import { buildApp } from '../http/app.js'
import { productionLoggerOptions } from '../http/logger.js'
import type { E2eSettings } from './settings.js'

export interface GatewayUnderTest {
  url: string
  apiKey: string
  close (): Promise<void>
}

/**
 * The gateway to check: the one at GATEWAY_URL, or one started here on a loopback port with this process's
 * settings (OPENIM_*, and whatever else the environment sets, such as REDIS_URL) and a key of its own.
 */
export async function gatewayUnderTest (settings: E2eSettings, env: Record<string, string | undefined>): Promise<GatewayUnderTest> {
  if (settings.GATEWAY_URL !== undefined && settings.GATEWAY_API_KEY !== undefined) {
    return { url: settings.GATEWAY_URL.replace(/\/+$/, ''), apiKey: settings.GATEWAY_API_KEY, close: async () => {} }
  }
  const apiKey = randomBytes(24).toString('hex')
  const config = loadConfig({
    ...env,
    OPENIM_API_URL: settings.OPENIM_API_URL,
    OPENIM_SECRET: settings.OPENIM_SECRET,
    OPENIM_ADMIN_USER_ID: settings.OPENIM_ADMIN_USER_ID,
    GATEWAY_API_KEYS: `e2e:${apiKey}`,
    AUTH_DISABLED: undefined,
    METRICS_PORT: undefined,
    // One caller, on a machine that may be busy: load shedding would fail checks that say nothing about OpenIM.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn'
  })
  // Its log lines go to stderr, so stdout holds only the checks' lines.
  const app = await buildApp({ config, logger: { ...productionLoggerOptions(config.logLevel), stream: process.stderr } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, apiKey, close: () => app.close() }
}
