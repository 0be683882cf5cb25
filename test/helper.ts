import type { ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import tap from 'tap'
import type { FastifyInstance } from 'fastify'
import { loadConfig, redisSecrets, type Config } from '../src/config/index.js'
import { startEmulator, type EmulatorOptions, type Fault, type OpenImEmulator } from '../src/emulator/emulator.js'
import { buildApp } from '../src/http/app.js'
import { productionLoggerOptions } from '../src/http/logger.js'

// tap's Test type, kept structural so helpers work with any test object.
interface Teardown { name?: string, teardown (fn: () => unknown): void }

// Leaks found when a test's gateway closed. A throwing teardown would skip the test's other teardowns (its
// emulator would keep the process alive), so the file's own last teardown fails the file instead, naming them.
const leakedCredentials: string[] = []
tap.teardown(() => {
  if (leakedCredentials.length > 0) throw new Error(`credentials in the gateway's logs: ${leakedCredentials.join('; ')}`)
})

export const SECRET = 'openIM123'
export const ADMIN = 'imAdmin'
/**
 * OPENIM_TIMEOUT_MS for a test where one hung call must time out while the gateway's other calls succeed: a
 * wait the test can afford, and a hundred times what a call takes here (a loaded machine took over 1 s).
 */
export const HUNG_CALL_TIMEOUT_MS = '5000'
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
 * OpenIM's timeout (and so the request deadline, twice it) is one no machine reaches, however loaded: at load
 * average 20 a first /provision outlasted a 1 s timeout. A test of a timeout or a deadline sets its own, and
 * stalls OpenIM with a fault (`hang`, or `hold` until the test releases it), never with a race against it.
 */
export function gatewayConfig (openimUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    OPENIM_API_URL: openimUrl,
    OPENIM_SECRET: SECRET,
    LOG_LEVEL: 'debug',
    OPENIM_TIMEOUT_MS: '30000',
    GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`,
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    // The memory store sets aside every slot at once (lru-cache): the default 100,000 cost each gateway a test builds
    // about 20 ms of CPU, a seventh of building it. No test here remembers more than a few hundred tokens.
    TOKEN_CACHE_MAX_ENTRIES: '10000',
    ...env
  })
}

// A JWT anywhere in a log line is a leak: end users' tokens and OpenIM's tokens are both JWTs.
const JWT_SHAPE = /eyJ[\w-]{2,}\.eyJ[\w-]{2,}\.[\w-]*/

/**
 * Every log line the app wrote, parsed, plus the raw text; and the one check that no credential appears in
 * any of them, which buildGateway runs when every test ends.
 */
export class LogCapture {
  readonly lines: string[] = []
  private readonly credentials = new Map<string, string>()
  readonly stream = new Writable({
    write: (chunk, _encoding, callback) => {
      this.lines.push(...String(chunk).split('\n').filter((line) => line !== ''))
      callback()
    }
  })

  get records (): Array<Record<string, unknown>> { return this.lines.map((line) => JSON.parse(line)) }
  get text (): string { return this.lines.join('\n') }

  /** Credentials this test knows (a wrong key it sent, a password): none may appear in any line. */
  watch (credentials: Record<string, string | undefined>) {
    for (const [what, value] of Object.entries(credentials)) if (value !== undefined && value !== '') this.credentials.set(what, value)
  }

  /** What leaked, one entry per line and credential; raw bytes (a logged Buffer) are read as text too. */
  leaks (): string[] {
    const found: string[] = []
    this.lines.forEach((line, index) => {
      const text = `${line}\n${bufferTexts(JSON.parse(line)).join('\n')}`
      for (const [what, value] of this.credentials) if (text.includes(value)) found.push(`line ${index + 1} holds ${what}`)
      if (JWT_SHAPE.test(text)) found.push(`line ${index + 1} holds a JWT`)
      if (/rawPacket/.test(line)) found.push(`line ${index + 1} holds a rawPacket`)
    })
    return found
  }
}

/** Buffers as pino writes them ({type: "Buffer", data: [...]}), decoded. */
function bufferTexts (value: unknown): string[] {
  if (value === null || typeof value !== 'object') return []
  const candidate = value as { type?: unknown, data?: unknown }
  if (candidate.type === 'Buffer' && Array.isArray(candidate.data)) return [Buffer.from(candidate.data as number[]).toString('latin1')]
  return Object.values(value).flatMap(bufferTexts)
}

/** The credentials a configuration holds. */
function configuredCredentials (config: Config): Record<string, string | undefined> {
  const source = config.auth.jwt?.source
  return {
    'the OpenIM secret': config.openim.secret,
    'the JWT secret': source?.kind === 'secret' ? source.secret : undefined,
    ...Object.fromEntries(redisSecrets(config.redis).map((secret, i) => [`Redis secret ${i + 1}`, secret])),
    ...Object.fromEntries(config.auth.apiKeys.map(({ name, key }) => [`the API key of ${name}`, key]))
  }
}

/**
 * The gateway app (not listening) wired to `openimUrl`, built with the production logger options writing to a
 * capture stream, closed when the test ends; then no log line may hold a credential.
 */
export async function buildGateway (t: Teardown, openimUrl: string, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, logs: LogCapture }> {
  const logs = new LogCapture()
  const config = gatewayConfig(openimUrl, env)
  logs.watch({ 'the test service key': SERVICE_KEY, ...configuredCredentials(config) })
  const app = await buildApp({ config, logger: { ...productionLoggerOptions(config.logLevel), stream: logs.stream } })
  t.teardown(async () => {
    await app.close()
    leakedCredentials.push(...logs.leaks().map((leak) => `${t.name ?? 'a test'}: ${leak}`))
  })
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
 * Polls `check` (sync or async) every 5 ms until it holds; fails naming `what` after `ms` (a hang detector, read
 * on the monotonic clock: tests that hold Date still with mock.timers wait here too). Generous: two suites at once
 * with other work beside them have taken over 30 s to start a gateway process.
 */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, ms = 120_000) {
  const deadline = performance.now() + ms
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * A fault that holds OpenIM's answer until the test calls `release()`: a call stays in flight exactly as long
 * as the test needs (while others queue, callers leave), instead of a delay racing the test on a loaded machine.
 */
export function hold (): { fault: Fault, release: () => void } {
  let release!: () => void
  const until = new Promise<void>((resolve) => { release = resolve })
  return { fault: { kind: 'hold', until }, release }
}

/**
 * How many of the app's answers were cut off by their client leaving, counted on the same 'close' event the
 * gateway watches (its listener runs in the same emit): once the count is reached, the gateway knows too.
 */
export function clientsGone (app: FastifyInstance): () => number {
  let gone = 0
  app.server.on('request', (_request: unknown, response: ServerResponse) => {
    response.once('close', () => { if (!response.writableFinished) gone += 1 })
  })
  return () => gone
}

/** The paths the app documents, and those of them whose operations take no credentials (the probes, the scrape). */
export async function documentedPaths (app: FastifyInstance): Promise<{ all: string[], open: string[] }> {
  await app.ready()
  const { paths } = app.swagger() as { paths: Record<string, Record<string, { security?: unknown[] }>> }
  const open = Object.entries(paths).filter(([, item]) => Object.values(item).every((operation) => (operation.security ?? []).length === 0))
  return { all: Object.keys(paths), open: open.map(([path]) => path) }
}

/**
 * The commands a Redis client sends from now on, but the breaker's PING probes: "nothing waits on Redis" shown
 * as no command sent (or only the first, which meets the timeout and opens the breaker), not as a quick clock.
 */
export function redisCommands (t: { intercept: (...args: any[]) => unknown }, client: { sendCommand: (...args: any[]) => unknown }): string[] {
  const sent: string[] = []
  const sendCommand = client.sendCommand.bind(client)
  t.intercept(client, 'sendCommand', {
    value: (command: { name: string }, ...rest: unknown[]) => {
      if (command.name !== 'ping') sent.push(command.name)
      return sendCommand(command, ...rest)
    }
  })
  return sent
}

/** How many users the emulator holds besides its admin account (which exists from the start, as in OpenIM). */
export const userCount = (emulator: OpenImEmulator) => [...emulator.users.keys()].filter((userID) => userID !== ADMIN).length

/** A raw connection (from `from`, any loopback address) that records what the server sent and when it closed. */
export async function rawConnection (t: Teardown, port: number, from = '127.0.0.1') {
  const socket: Socket = connect({ port, host: '127.0.0.1', localAddress: from })
  t.teardown(() => { socket.destroy() })
  const state = { received: '', closedAt: undefined as number | undefined, socket }
  socket.on('data', (chunk) => { state.received += chunk })
  socket.on('close', () => { state.closedAt = Date.now() })
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  return state
}
