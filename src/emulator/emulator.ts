import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { errorEnvelope } from './envelope.js'
import { BEHAVIOURS, type Behaviour, type EmulatorMode } from './modes.js'
import { answer } from './pipeline.js'
import { currentRoutes, legacyRoutes, type RouteContext, type StoredUser } from './routes.js'
import { TokenStore } from './tokens.js'

export type { EmulatorMode } from './modes.js'

export interface EmulatorOptions {
  mode?: EmulatorMode
  secret: string
  adminUserID?: string
  /** Delay before every answer, in ms. */
  latencyMs?: number
  /** Token lifetime (OpenIM's tokenPolicy.expire); 90 days by default. */
  tokenLifetimeSeconds?: number
  /** How far the emulator's clock is from this host's: its tokens' iat/exp and its HTTP Date header follow it. */
  clockSkewSeconds?: number
}

export type Fault =
  | {
    kind: 'errCode'
    errCode: number
    errMsg?: string
    errDlt?: string
    /** do the real work first, then answer the error */
    afterEffect?: boolean
  }
  | { kind: 'hang' } // never answer
  | { kind: 'drop' } // close the connection without answering
  | { kind: 'html', status?: number } // a proxy's error page
  | { kind: 'empty', status?: number } // a panic: HTTP 500 with an empty body
  | { kind: 'text', status?: number, body: string }
  | { kind: 'delay', ms: number } // answer normally, this much later (one slow call among fast ones)
  | { kind: 'hold', until: Promise<unknown> } // answer normally once `until` settles: a test holds a call in flight, no timer races it
  | { kind: 'oversized', bytes: number } // a valid envelope this many bytes long, streamed: an answer too large to read whole

export interface ReceivedCall {
  path: string
  operationID: string | undefined
  token: string | undefined
  /** OpenIM ignores it; recorded so tests can see the gateway propagate its trace. */
  traceparent: string | undefined
  body: string
}

const RECENT_CALLS_KEPT = 1000
const MAX_BODY_BYTES = 1024 * 1024
// tools' mw.CorsHandler sets these (and the JSON content type, without a charset) on every answer.
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': '*',
  'access-control-allow-headers': '*',
  'access-control-max-age': '172800',
  'access-control-allow-credentials': 'false'
}

/**
 * A stand-in OpenIM REST API for tests, the demo and front-end developers, faithful to shared CONTRACT.md:
 * `current` behaves like v3.8.3-patch, `v3.8.0` like v3.8.0 (legacy API, v3.8's rules), `legacy` like v3.7.x.
 */
export class OpenImEmulator {
  private currentMode: EmulatorMode
  readonly users = new Map<string, StoredUser>()
  readonly tokens: TokenStore
  /** The last calls received (bounded), oldest first. */
  readonly recentCalls: ReceivedCall[] = []
  private readonly counts = new Map<string, number>()
  private readonly faults: Array<{ path: string, fault: Fault, remaining: number }> = []
  private readonly sockets = new Set<Socket>()
  private readonly context: RouteContext
  private clockOffsetSeconds: number
  private server?: Server
  latencyMs: number

  constructor (options: EmulatorOptions) {
    this.currentMode = options.mode ?? 'current'
    this.latencyMs = options.latencyMs ?? 0
    this.clockOffsetSeconds = options.clockSkewSeconds ?? 0
    const nowSeconds = () => Math.floor(this.nowMs() / 1000)
    const adminUserID = options.adminUserID ?? 'imAdmin'
    const lifetime = options.tokenLifetimeSeconds ?? 90 * 86_400
    this.tokens = new TokenStore(() => this.context.behaviour, adminUserID, options.secret, lifetime, nowSeconds)
    this.context = {
      behaviour: BEHAVIOURS[this.currentMode], secret: options.secret, adminUserID, users: this.users, tokens: this.tokens, nowSeconds
    }
    // OpenIM creates its admin account at start-up, as an app account (internal/rpc/user/user.go).
    this.addUser(adminUserID, { appMangerLevel: 3 })
  }

  /** The OpenIM version it plays. */
  get mode (): EmulatorMode { return this.currentMode }

  /** The API generation the mode speaks. */
  get api (): Behaviour['api'] { return this.context.behaviour.api }

  /**
   * OpenIM upgraded (or downgraded) in place: from the next request on it answers as `mode`, with the same
   * users, the same stored tokens and the same open connections, as one Redis and one Mongo outlive the
   * server's binaries. Tokens the old version did not store (v3.8.2+ admin tokens) stay unknown to an older one.
   */
  switchMode (mode: EmulatorMode): void {
    this.currentMode = mode
    this.context.behaviour = BEHAVIOURS[mode]
  }

  /** Puts a user in OpenIM's database directly, as an older version (or another tool) may have registered it. */
  addUser (userID: string, fields: Partial<Omit<StoredUser, 'userID'>> = {}): void {
    const createTime = this.context.nowSeconds()
    this.users.set(userID, { userID, nickname: userID, faceURL: '', ex: '', appMangerLevel: 0, createTime, ...fields })
  }

  get url (): string {
    const address = this.server?.address() as AddressInfo | null | undefined
    if (address == null) throw new Error('emulator is not listening')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }

  async listen (port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.keepAliveTimeout = 60_000
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    return this.url
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** The next `times` calls to `path` answer with `fault` (Infinity: until cleared). */
  injectFault (path: string, fault: Fault, times = 1): void {
    this.faults.push({ path, fault, remaining: times })
  }

  clearFaults (): void {
    this.faults.length = 0
  }

  /** Calls received on a path (or all paths) since the last reset. */
  callCount (path?: string): number {
    if (path !== undefined) return this.counts.get(path) ?? 0
    let total = 0
    for (const count of this.counts.values()) total += count
    return total
  }

  resetCounts (): void {
    this.counts.clear()
    this.recentCalls.length = 0
  }

  /** Moves the emulator's clock (token iat/exp, the Date header) forward. */
  advanceClock (seconds: number): void {
    this.clockOffsetSeconds += seconds
  }

  private nowMs (): number {
    return Date.now() + this.clockOffsetSeconds * 1000
  }

  private takeFault (path: string): Fault | undefined {
    const index = this.faults.findIndex((rule) => rule.path === path || rule.path === '*')
    if (index === -1) return undefined
    const rule = this.faults[index]!
    rule.remaining -= 1
    if (rule.remaining <= 0) this.faults.splice(index, 1)
    return rule.fault
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: string
    try {
      body = await readBody(req)
    } catch {
      req.socket.destroy()
      return
    }
    const path = new URL(req.url ?? '/', 'http://emulator').pathname
    const operationID = header(req, 'operationid')
    const token = header(req, 'token')
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1)
    this.recentCalls.push({ path, operationID, token, traceparent: header(req, 'traceparent'), body })
    if (this.recentCalls.length > RECENT_CALLS_KEPT) this.recentCalls.shift()
    // Go's net/http stamps every answer with its own clock; a skewed OpenIM shows it here first.
    res.setHeader('date', new Date(this.nowMs()).toUTCString())

    if (this.latencyMs > 0) await sleep(this.latencyMs)
    let fault = this.takeFault(path)
    if (fault?.kind === 'delay' || fault?.kind === 'hold') {
      await (fault.kind === 'delay' ? sleep(fault.ms) : fault.until.catch(() => {}))
      fault = undefined
    }
    if (fault !== undefined && !(fault.kind === 'errCode' && fault.afterEffect === true)) {
      this.answerFault(res, fault)
      return
    }
    const routes = this.api === 'current' ? currentRoutes : legacyRoutes
    const reply = await answer({ method: req.method ?? 'GET', path, operationID, token, body }, routes, this.context)
    if (fault?.kind === 'errCode' && 'json' in reply) {
      this.answerFault(res, fault)
      return
    }
    if ('text' in reply) {
      res.writeHead(reply.status, { ...CORS_HEADERS, 'content-type': 'text/plain' }).end(reply.text)
    } else {
      const json = JSON.stringify(reply.json)
      const headers = { ...CORS_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }
      res.writeHead(reply.status, headers).end(json)
    }
  }

  private answerFault (res: ServerResponse, fault: Fault): void {
    switch (fault.kind) {
      case 'hang':
        return
      case 'drop':
        res.socket?.destroy()
        return
      case 'html':
        res.writeHead(fault.status ?? 502, { 'content-type': 'text/html' })
          .end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>' +
            '<hr><center>nginx</center></body></html>')
        return
      case 'empty':
        res.writeHead(fault.status ?? 500).end()
        return
      case 'text':
        res.writeHead(fault.status ?? 200, { 'content-type': 'text/plain' }).end(fault.body)
        return
      case 'oversized':
        res.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/json' })
        // The reader may hang up once it has read enough: that ends the stream, it is not the emulator's failure.
        pipeline(Readable.from(oversizedEnvelope(fault.bytes)), res).catch(() => {})
        return
      case 'errCode': {
        const envelope = errorEnvelope(fault.errCode, fault.errDlt)
        if (fault.errMsg !== undefined) envelope.errMsg = fault.errMsg
        res.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(envelope))
      }
    }
  }
}

/** `{"errCode":0,…,"data":{"padding":"xxx…"}}` in chunks, `bytes` long in all, never held whole in memory. */
function * oversizedEnvelope (bytes: number): Generator<string> {
  const head = '{"errCode":0,"errMsg":"","errDlt":"","data":{"padding":"'
  const tail = '"}}'
  const chunk = 'x'.repeat(64 * 1024)
  yield head
  let left = Math.max(bytes - head.length - tail.length, 0)
  while (left > 0) {
    const part = Math.min(left, chunk.length)
    yield part === chunk.length ? chunk : chunk.slice(0, part)
    left -= part
  }
  yield tail
}

function header (req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function startEmulator (options: EmulatorOptions & { port?: number, host?: string }): Promise<OpenImEmulator> {
  const emulator = new OpenImEmulator(options)
  await emulator.listen(options.port, options.host)
  return emulator
}
