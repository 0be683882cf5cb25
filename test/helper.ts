import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../src/config/index.js'
import { startEmulator, type EmulatorOptions, type OpenImEmulator } from '../src/emulator/emulator.js'
import { buildApp } from '../src/http/app.js'

// tap's Test type, kept structural so helpers work with any test object.
interface Teardown { teardown (fn: () => unknown): void }

export const SECRET = 'openIM123'
export const ADMIN = 'imAdmin'
/** The service key every test gateway accepts (as `tests`), unless a test configures its own auth. */
export const SERVICE_KEY = 'test-service-key-0123456789'

/** A real OpenIM emulator on a loopback port, closed when the test ends. */
export async function startOpenIm (t: Teardown, options: Partial<EmulatorOptions> = {}): Promise<OpenImEmulator> {
  const emulator = await startEmulator({ secret: SECRET, adminUserID: ADMIN, ...options })
  t.teardown(() => emulator.close())
  return emulator
}

/**
 * Overload shedding is off unless a test turns it on: it measures the machine, not the code. under-pressure
 * reads a 200 ms sample with no event-loop tick in it as an infinite delay, so one such stall of a test
 * process on a busy machine (loading modules, compiling schemas) shed the next requests with 503 OVERLOADED.
 */
export function gatewayConfig (openimUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    OPENIM_API_URL: openimUrl, OPENIM_SECRET: SECRET, LOG_LEVEL: 'debug', OPENIM_TIMEOUT_MS: '1000', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`, ...env
  })
}

/** Every log line the app wrote, parsed, plus the raw text (to search for leaked secrets). */
export class LogCapture {
  readonly lines: string[] = []
  readonly stream = new Writable({
    write: (chunk, _encoding, callback) => {
      this.lines.push(...String(chunk).split('\n').filter((line) => line !== ''))
      callback()
    }
  })

  get records (): Array<Record<string, unknown>> { return this.lines.map((line) => JSON.parse(line)) }
  get text (): string { return this.lines.join('\n') }
}

/** The gateway app (not listening) wired to `openimUrl`, with its logs captured, closed when the test ends. */
export async function buildGateway (t: Teardown, openimUrl: string, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, logs: LogCapture }> {
  const logs = new LogCapture()
  const config = gatewayConfig(openimUrl, env)
  const app = await buildApp({ config, logger: { level: config.logLevel, stream: logs.stream } })
  t.teardown(() => app.close())
  return { app, logs }
}

/** A POST to OpenIM's REST API as any client would send it. */
export async function openImCall (url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', operationID: 'test-op', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await response.text()
  let json: Record<string, any> | undefined
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: response.status, text, json }
}

export async function adminToken (emulator: OpenImEmulator): Promise<string> {
  const path = emulator.mode === 'current' ? '/auth/get_admin_token' : '/auth/user_token'
  const { json } = await openImCall(emulator.url, path, { secret: SECRET, userID: ADMIN, platformID: 10 })
  return json?.data.token
}

/** POST /provision as the test service (pass an authorization or x-api-key header to call as someone else). */
export function provision (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return post(app, '/provision', body, headers)
}

export function post (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  const credentials = 'authorization' in headers || 'x-api-key' in headers ? {} : { 'x-api-key': SERVICE_KEY }
  return app.inject({ method: 'POST', url, payload: body as Record<string, unknown>, headers: { ...credentials, ...headers } })
}

/**
 * Polls `check` (sync or async) every 5 ms until it holds; fails naming `what` after `ms`. The default is a
 * deadline for what never happens, not an expected speed: a loaded machine can take seconds.
 */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
