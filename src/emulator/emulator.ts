import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiError, DecodeError, errorEnvelope, objectOf, successEnvelope } from './envelope.js'
import { currentRoutes, legacyRoutes, type Route, type RouteContext, type StoredUser } from './routes.js'
import { TokenStore, type Claims } from './tokens.js'

export type EmulatorMode = 'current' | 'legacy'

export interface EmulatorOptions {
  mode?: EmulatorMode
  secret: string
  adminUserID?: string
  /** Delay before every answer, in ms. */
  latencyMs?: number
  /** Token lifetime (OpenIM's tokenPolicy.expire); 90 days by default. */
  tokenLifetimeSeconds?: number
}

export type Fault =
  | { kind: 'errCode', errCode: number, errMsg?: string, errDlt?: string, /** do the real work first, then answer the error */ afterEffect?: boolean }
  | { kind: 'hang' } // never answer
  | { kind: 'drop' } // close the connection without answering
  | { kind: 'html', status?: number } // a proxy's error page
  | { kind: 'empty', status?: number } // a panic: HTTP 500 with an empty body
  | { kind: 'text', status?: number, body: string }

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

/**
 * A stand-in OpenIM REST API for tests, the demo and front-end developers, faithful to shared
 * CONTRACT.md for both generations: `current` behaves like v3.8.3-patch, `legacy` like v3.7.x.
 */
export class OpenImEmulator {
  readonly mode: EmulatorMode
  readonly users = new Map<string, StoredUser>()
  readonly tokens: TokenStore
  /** The last calls received (bounded), oldest first. */
  readonly recentCalls: ReceivedCall[] = []
  private readonly counts = new Map<string, number>()
  private readonly faults: Array<{ path: string, fault: Fault, remaining: number }> = []
  private readonly sockets = new Set<Socket>()
  private readonly routes: Record<string, Route>
  private readonly context: RouteContext
  private clockOffsetSeconds = 0
  private server?: Server
  latencyMs: number

  constructor (options: EmulatorOptions) {
    this.mode = options.mode ?? 'current'
    this.latencyMs = options.latencyMs ?? 0
    this.routes = this.mode === 'current' ? currentRoutes : legacyRoutes
    const nowSeconds = () => Math.floor(Date.now() / 1000) + this.clockOffsetSeconds
    this.tokens = new TokenStore(this.mode, options.secret, options.tokenLifetimeSeconds ?? 90 * 86_400, nowSeconds)
    this.context = {
      mode: this.mode, secret: options.secret, adminUserID: options.adminUserID ?? 'imAdmin', users: this.users, tokens: this.tokens, nowSeconds
    }
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

  /** Moves the emulator's clock (token iat/exp) forward. */
  advanceClock (seconds: number): void {
    this.clockOffsetSeconds += seconds
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

    if (this.latencyMs > 0) await sleep(this.latencyMs)
    const fault = this.takeFault(path)
    if (fault !== undefined && !(fault.kind === 'errCode' && fault.afterEffect === true)) {
      this.answerFault(res, fault)
      return
    }
    const [status, reply] = await this.dispatch(req.method ?? 'GET', path, operationID, token, body)
    if (fault?.kind === 'errCode' && typeof reply === 'object') {
      this.answerFault(res, fault)
      return
    }
    if (typeof reply === 'string') {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(reply)
    } else {
      const json = JSON.stringify(reply)
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json)
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
          .end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>')
        return
      case 'empty':
        res.writeHead(fault.status ?? 500).end()
        return
      case 'text':
        res.writeHead(fault.status ?? 200, { 'content-type': 'text/plain' }).end(fault.body)
        return
      case 'errCode': {
        const envelope = errorEnvelope(fault.errCode, fault.errDlt)
        if (fault.errMsg !== undefined) envelope.errMsg = fault.errMsg
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(envelope))
      }
    }
  }

  /** Returns [HTTP status, JSON envelope or plain text], in the order OpenIM's middleware checks things. */
  private async dispatch (method: string, path: string, operationID: string | undefined, token: string | undefined,
    rawBody: string): Promise<[number, Record<string, unknown> | string]> {
    const route = method === 'POST' ? this.routes[path] : undefined
    // Up to v3.7 the middleware sits on the route groups: an unknown route is gin's plain 404. From v3.8 it
    // is global: operationID and token are checked before gin finds there is no such route.
    if (route === undefined && (this.mode === 'legacy' || method !== 'POST')) return [404, '404 page not found']
    if (operationID === undefined || operationID === '') return [200, errorEnvelope(1001, 'header must have operationID')]
    let caller: Claims | undefined
    if (route === undefined || !route.public) {
      if (token === undefined || token === '') return [200, errorEnvelope(1001, 'header must have token')]
      try {
        caller = await this.tokens.verify(token)
      } catch (error) {
        return [200, errorEnvelope((error as ApiError).errCode, (error as ApiError).detail)]
      }
    }
    if (route === undefined) return [404, '404 page not found']
    try {
      const body = objectOf(JSON.parse(rawBody), 'request')
      return [200, successEnvelope(await route.handle(body, this.context, caller))]
    } catch (error) {
      if (error instanceof ApiError) return [200, errorEnvelope(error.errCode, error.detail)]
      if (error instanceof SyntaxError || error instanceof DecodeError) {
        // v3.8+ answers 1001 with the decoder's text in errMsg; v3.7 answers 500.
        if (this.mode === 'legacy') return [200, errorEnvelope(500, error.message)]
        return [200, { errCode: 1001, errMsg: `ArgsError: ${error.message}`, errDlt: '' }]
      }
      return [500, '']
    }
  }
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
