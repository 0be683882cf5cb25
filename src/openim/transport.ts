import { tracingChannel } from 'node:diagnostics_channel'
import { Pool, errors as undiciErrors } from 'undici'
import { ConnectionSlots, SlotRefused } from './connection-slots.js'
import { OpenImError } from './errors.js'

/** What every OpenIM call made for one gateway request carries. */
export interface CallContext {
  /** Sent as OpenIM's operationID header: the gateway request's id, so OpenIM's logs can be searched by it. */
  operationID: string
  /**
   * Date.now() after which no call is dispatched: a call still waiting for a pool connection then fails as
   * a timeout. A call already dispatched runs on, bounded by OPENIM_TIMEOUT_MS.
   */
  deadline?: number
  /** Aborted when nobody waits for the result any more: a call not yet dispatched fails with CallCancelled. */
  signal?: AbortSignal
}

/** A call that was never sent because everyone waiting for it had gone. Never an answer to a caller. */
export class CallCancelled extends Error {
  override name = 'CallCancelled'
}

export interface CallOptions extends CallContext {
  token?: string
}

/** What one OpenIM call ended as: 'ok', an errCode, or a failure kind. Fed to metrics and debug logs. */
export interface CallRecord {
  path: string
  outcome: string
  errCode?: number
  durationMs: number
  operationID: string
}

export interface TransportOptions {
  baseUrl: string
  timeoutMs: number
  connections: number
  pipelining: number
  keepAliveTimeoutMs: number
  /** Calls that may wait for a connection; beyond them a call fails at once as 'overloaded'. */
  maxPendingCalls: number
  onCall?: (record: CallRecord) => void
}

/** What the `openim-gateway:openim-call` tracing channel publishes around every call (src/tracing/ listens). */
export interface OpenImCallMessage { path: string, operationID: string }
/** Costs nothing while nobody subscribes, i.e. unless tracing is on. */
export const openImCallChannel = tracingChannel<unknown, OpenImCallMessage>('openim-gateway:openim-call')

/**
 * The largest answer read from OpenIM. Its own gRPC messages are capped at 4 MB (v3.7) or 8 MB (v3.8's
 * rpcMaxBodySize), and the gateway's largest question (an account_check of one import batch) is answered in far
 * less; without a cap, anything answering at OPENIM_API_URL could stream hundreds of MB into every replica's memory.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
  // TLS: an https OPENIM_API_URL whose certificate this host does not trust, or that is not TLS at all.
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO'
])

/**
 * The wire: POST a JSON body with the operationID (and token) headers over a keep-alive undici pool, and
 * turn OpenIM's envelope `{errCode, errMsg, errDlt, data}` into data or a typed OpenImError.
 */
export class OpenImTransport {
  private readonly pool: Pool
  private readonly slots: ConnectionSlots
  private readonly pathPrefix: string

  constructor (private readonly options: TransportOptions) {
    const url = new URL(options.baseUrl)
    this.pathPrefix = url.pathname.replace(/\/+$/, '')
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: options.pipelining,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // OpenIM's own server (Go net/http) closes idle connections after a while; undici honours its
      // keep-alive hint, this caps what we assume when there is none.
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs, 1000),
      maxResponseSize: MAX_ANSWER_BYTES,
      connect: { timeout: options.timeoutMs }
    })
    this.slots = new ConnectionSlots(options.connections * options.pipelining, options.maxPendingCalls)
  }

  /** Calls waiting for a pool connection right now. */
  get pendingCalls (): number { return this.slots.pending }

  async post<T = unknown> (path: string, body: unknown, options: CallOptions): Promise<T | undefined> {
    const started = performance.now()
    const record = (outcome: string, errCode?: number) => this.options.onCall?.({
      path, outcome, errCode, durationMs: performance.now() - started, operationID: options.operationID
    })
    try {
      const waiting = this.slots.acquire(options)
      if (waiting !== undefined) await waiting
    } catch (error) {
      const refused = error as SlotRefused
      record(refused.reason)
      throw this.refusal(path, refused)
    }
    try {
      const data = await openImCallChannel.tracePromise(() => this.send<T>(path, body, options), { path, operationID: options.operationID })
      record('ok')
      return data
    } catch (error) {
      const failure = error as OpenImError
      record(failure.kind === 'rejected' ? String(failure.errCode) : failure.kind, failure.errCode)
      throw failure
    } finally {
      this.slots.release()
    }
  }

  private refusal (path: string, refused: SlotRefused): Error {
    switch (refused.reason) {
      case 'cancelled': return new CallCancelled(`${path} was not sent: ${refused.message}`)
      case 'deadline': return new OpenImError('timeout', path, refused.message)
      case 'queue_full': return new OpenImError('overloaded', path, refused.message)
    }
  }

  private async send<T> (path: string, body: unknown, { operationID, token }: CallOptions): Promise<T | undefined> {
    const headers: Record<string, string> = { 'content-type': 'application/json', operationID }
    if (token !== undefined) headers.token = token
    let statusCode: number
    let text: string
    try {
      // undici's own timers (connect timeout on the pool, headers and body here) bound the call: OpenIM's
      // answers are small, so in practice this is one deadline. Profiling showed an AbortSignal.timeout()
      // per call costing ~8% of the gateway's CPU and keeping every signal alive for the whole deadline.
      const response = await this.pool.request({
        method: 'POST',
        path: this.pathPrefix + path,
        headers,
        body: JSON.stringify(body),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs
      })
      statusCode = response.statusCode
      text = await response.body.text()
    } catch (error) {
      throw networkFailure(path, error, this.options.timeoutMs)
    }
    return readAnswer<T>(path, statusCode, text)
  }

  async close (): Promise<void> {
    await this.pool.close()
  }
}

/**
 * OpenIM's answer read the one way the gateway reads it: the envelope's data, or a typed OpenImError for a
 * wrong HTTP status, a body that is not OpenIM's JSON envelope, or an errCode. (The doctor reads raw
 * answers through this too, so it judges them exactly as the gateway would.)
 */
export function readAnswer<T = unknown> (path: string, statusCode: number, text: string): T | undefined {
  if (statusCode !== 200) {
    const empty = text.trim() === '' ? ' with an empty body' : ''
    throw new OpenImError('bad_response', path, `OpenIM answered HTTP ${statusCode}${empty}`, { httpStatus: statusCode })
  }
  let envelope: { errCode?: unknown, errMsg?: unknown, errDlt?: unknown, data?: unknown }
  try {
    envelope = JSON.parse(text)
  } catch {
    const what = text.trim() === '' ? 'an empty body' : /^\s*</.test(text) ? 'an HTML page' : 'a non-JSON body'
    throw new OpenImError('bad_response', path, `OpenIM answered ${what}`, { httpStatus: statusCode })
  }
  if (envelope === null || typeof envelope !== 'object' || typeof envelope.errCode !== 'number') {
    throw new OpenImError('bad_response', path, 'OpenIM answered JSON without a numeric errCode', { httpStatus: statusCode })
  }
  if (envelope.errCode !== 0) {
    const errMsg = typeof envelope.errMsg === 'string' ? envelope.errMsg : ''
    const errDlt = typeof envelope.errDlt === 'string' ? envelope.errDlt : ''
    throw new OpenImError('rejected', path, `OpenIM answered errCode ${envelope.errCode}`, { errCode: envelope.errCode, errMsg, errDlt })
  }
  return envelope.data as T | undefined
}

/**
 * What an undici failure means: a timeout, an answer past MAX_ANSWER_BYTES (something answered, just not
 * OpenIM's JSON), or OpenIM unreachable (with the system's or TLS's error code).
 */
export function networkFailure (path: string, error: unknown, timeoutMs: number): OpenImError {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError) {
    return new OpenImError('timeout', path, `OpenIM did not answer within ${timeoutMs} ms`)
  }
  if (error instanceof undiciErrors.ResponseExceededMaxSizeError) {
    return new OpenImError('bad_response', path, `OpenIM's answer was larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`)
  }
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code
  const known = code !== undefined && CONNECTION_ERROR_CODES.has(code)
  return new OpenImError('unavailable', path, `OpenIM is unreachable (${known ? code : 'connection failed'})`,
    known ? { networkCode: code } : {})
}
