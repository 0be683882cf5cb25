import type { TLSSocket } from 'node:tls'
import { Agent, buildConnector } from 'undici'
import type { OpenImError } from './errors.js'
import { MAX_ANSWER_BYTES, networkFailure, readAnswer, type CallOptions } from './transport.js'

/** One raw answer from OpenIM, with what the gateway's transport throws away: status, headers, timing. */
export interface RawAnswer {
  path: string
  /** The operationID it was sent with: OpenIM's logs can be searched by it. */
  operationID: string
  httpStatus: number
  durationMs: number
  /** This host's clock when the request left and when the answer was read (epoch ms): with `date`, the clock skew. */
  sentAt: number
  receivedAt: number
  /** The HTTP Date header: the answering server's clock, to the second. */
  date?: string
  /** Where a 3xx answer points. */
  location?: string
  /** The envelope's data, or the OpenImError the gateway's transport would have thrown for this answer. */
  outcome: { ok: true, data: unknown } | { ok: false, error: OpenImError }
  /** What the body was, whatever the status: a proxy's error page is 'html'. */
  body: 'json' | 'html' | 'text' | 'empty'
  /** The start of a body that is not OpenIM's (an HTML page's title), to show what answered instead. */
  excerpt?: string
}

export interface TlsSession {
  protocol: string | null
  /** The certificate's subject CN, issuer CN or O, and end of validity (ISO date). */
  subject?: string
  issuer?: string
  validTo?: string
}

const EXCERPT_CHARACTERS = 80

/**
 * Raw calls for `npm run doctor`: the same requests as the gateway's transport, over undici, but answering
 * with what a diagnosis needs (HTTP status, Date and Location headers, latency, the TLS session) instead of
 * only the data. Redirects are not followed, as the gateway does not follow them either.
 */
export class OpenImDiagnostics {
  private readonly agent: Agent
  private readonly base: URL
  private tlsSession?: TlsSession

  constructor (baseUrl: string, private readonly timeoutMs: number) {
    this.base = new URL(baseUrl)
    // No TLS session resumption: a resumed session shows no certificate to report.
    const connect = buildConnector({ timeout: timeoutMs, maxCachedSessions: 0 })
    this.agent = new Agent({
      maxResponseSize: MAX_ANSWER_BYTES,
      connect: (options, callback) => connect(options, (...args) => {
        const socket = args[1]
        if (socket != null && 'getPeerCertificate' in socket) this.tlsSession = describeTls(socket)
        callback(...args)
      })
    })
  }

  /** The TLS session of the last connection opened (undefined over plain http). */
  get tls (): TlsSession | undefined { return this.tlsSession }

  /** POSTs like the gateway does; throws the gateway's OpenImError only when nothing answered (network, timeout). */
  async post (path: string, body: unknown, { operationID, token }: CallOptions): Promise<RawAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', operationID }
    if (token !== undefined) headers.token = token
    const sentAt = Date.now()
    const started = performance.now()
    let response
    let text: string
    try {
      response = await this.agent.request({
        origin: this.base.origin,
        path: this.base.pathname.replace(/\/+$/, '') + path,
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
      text = await response.body.text()
    } catch (error) {
      throw networkFailure(path, error, this.timeoutMs)
    }
    const answer: RawAnswer = {
      path,
      operationID,
      httpStatus: response.statusCode,
      durationMs: performance.now() - started,
      sentAt,
      receivedAt: Date.now(),
      date: headerValue(response.headers.date),
      location: headerValue(response.headers.location),
      body: bodyKind(text),
      outcome: { ok: true, data: undefined }
    }
    try {
      answer.outcome = { ok: true, data: readAnswer(path, response.statusCode, text) }
    } catch (error) {
      answer.outcome = { ok: false, error: error as OpenImError }
      answer.excerpt = excerpt(text)
    }
    return answer
  }

  /** Whether anything answers HTTP at `url` (ws:// and wss:// are asked over http and https): its status. */
  async reach (url: string): Promise<{ httpStatus: number, durationMs: number }> {
    const target = new URL(url.replace(/^ws/, 'http'))
    const started = performance.now()
    try {
      const response = await this.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'GET',
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
      await response.body.dump()
      return { httpStatus: response.statusCode, durationMs: performance.now() - started }
    } catch (error) {
      throw networkFailure(target.pathname, error, this.timeoutMs)
    }
  }

  async close (): Promise<void> {
    await this.agent.destroy()
  }
}

function headerValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function bodyKind (text: string): RawAnswer['body'] {
  if (text.trim() === '') return 'empty'
  if (/^\s*</.test(text)) return 'html'
  try {
    JSON.parse(text)
    return 'json'
  } catch {
    return 'text'
  }
}

function excerpt (text: string): string | undefined {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]
  const line = (title ?? text).replace(/\s+/g, ' ').trim()
  return line === '' ? undefined : line.slice(0, EXCERPT_CHARACTERS)
}

function describeTls (socket: TLSSocket): TlsSession {
  const certificate = socket.getPeerCertificate()
  const name = (entry: unknown) => {
    const value = entry as Record<string, string | string[] | undefined> | undefined
    const pick = value?.CN ?? value?.O
    return Array.isArray(pick) ? pick[0] : pick
  }
  return {
    protocol: socket.getProtocol(),
    subject: name(certificate.subject),
    issuer: name(certificate.issuer),
    validTo: certificate.valid_to === undefined ? undefined : new Date(certificate.valid_to).toISOString()
  }
}
