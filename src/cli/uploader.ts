import { setTimeout as sleep } from 'node:timers/promises'
import { AnswerTooLarge, readJsonAnswer } from './answer.js'
import type { Row } from './rows.js'
import { printable } from './terminal-text.js'

export type RowStatus = 'created' | 'existing' | 'failed' | 'notAttempted'
export interface RowOutcome { row: Row, status: RowStatus, code?: string, message?: string }

/** A row on its way: its outcome once known. */
export interface Item { row: Row, outcome?: Omit<RowOutcome, 'row'> }

export interface UploaderOptions {
  gatewayUrl: string
  apiKey?: string
  /** Attempts after the first for a batch that failed with 5xx or a network error. */
  retries: number
  timeoutMs: number
  /** Told when a batch waits before trying again (429, 503, a failure). */
  onWait?: (seconds: number, reason: string) => void
}

/** Thrown when no batch can succeed (no gateway at GATEWAY_URL, a refused API key): the run stops. */
export class FatalError extends Error {}

// 429 (and 503 OVERLOADED) is the gateway pacing us: wait as told, however often, within reason.
const MAX_RATE_LIMIT_WAITS = 1000

interface ImportAnswer { results?: Array<{ status?: string, code?: string, message?: string }> }
interface ErrorAnswer { code: string, message: string }

/**
 * Sends batches of rows to POST /users/import and settles each row with its outcome. Until the gateway has answered
 * once, anything that shows there is no gateway at GATEWAY_URL stops the run; after that, network trouble is retried.
 * stop() sends nothing more and ends the waits; abort() gives up the requests in flight. Rows a stop leaves unsettled
 * were not finished.
 */
export class Uploader {
  /** The gateway has answered: from now on a network error is trouble to retry, not a wrong GATEWAY_URL. */
  confirmed = false
  private readonly stopping = new AbortController()
  private readonly aborting = new AbortController()

  constructor (private readonly options: UploaderOptions) {}

  stop () { this.stopping.abort() }

  abort () {
    this.stopping.abort()
    this.aborting.abort()
  }

  async send (items: Item[]): Promise<void> {
    const url = `${this.options.gatewayUrl}/users/import`
    let failures = 0
    let rateLimited = 0
    for (;;) {
      if (this.stopping.signal.aborted) return
      let response: Response
      let body: unknown
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.options.apiKey !== undefined && { 'x-api-key': this.options.apiKey })
          },
          body: JSON.stringify({ users: items.map(({ row }) => row.user) }),
          // Following a redirect would send the API key and the rows wherever the Location says.
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.aborting.signal])
        })
        body = await readJsonAnswer(response)
      } catch (error) {
        if (this.aborting.signal.aborted) return
        // Not the gateway's answer, and the batch's outcome unknown: the run stops, the resume line before the batch.
        if (error instanceof AnswerTooLarge) {
          throw new FatalError(`${url} answered more than the gateway ever does (${error.message}): is GATEWAY_URL the gateway's address?`)
        }
        const timedOut = (error as Error).name === 'TimeoutError'
        if (!this.confirmed && !timedOut) throw new FatalError(`no gateway at ${this.options.gatewayUrl}: ${networkProblem(error)}`)
        const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : `gateway unreachable (${causeOf(error)})`
        if (++failures > this.options.retries) return fail(items, 'GATEWAY_UNREACHABLE', reason)
        await this.wait(backoffSeconds(failures), reason)
        continue
      }
      if (this.aborting.signal.aborted) return
      const status = response.status
      if (status >= 300 && status < 400) throw new FatalError(redirectProblem(response, this.options.gatewayUrl))
      if (status === 200 && answersEvery(body, items.length)) {
        this.confirmed = true
        return settle(items, body)
      }
      const error = errorAnswer(body)
      if (!this.confirmed && error === undefined) {
        throw new FatalError(`${url} answered HTTP ${status} without the gateway's JSON error body: is GATEWAY_URL the gateway's address?`)
      }
      this.confirmed = true
      if (status === 200) return fail(items, 'BAD_RESPONSE', 'the gateway\'s answer does not list every user')
      const code = error?.code ?? `HTTP_${status}`
      const message = error?.message ?? `the gateway answered HTTP ${status}`
      if (status === 401 || status === 403 || status === 404) {
        throw new FatalError(`the gateway refused the import (${status} ${code}): ${message}`)
      }
      // Too large (413, more than IMPORT_MAX_USERS) or a row the gateway refuses outright (400): halves until the
      // refused rows are alone, so one bad row never fails its neighbours.
      if (status === 413 || status === 400) {
        if (items.length === 1) return fail(items, code, message)
        const half = Math.ceil(items.length / 2)
        await this.send(items.slice(0, half))
        return this.send(items.slice(half))
      }
      // 503 OVERLOADED is the replica's import slots all taken: pacing too, not a failure to count against --retries.
      const busy = status === 503 && code === 'OVERLOADED'
      if ((status === 429 || busy) && ++rateLimited <= MAX_RATE_LIMIT_WAITS) {
        await this.wait(retryAfterSeconds(response) ?? 1, busy ? 'the gateway is busy' : 'rate limited')
        continue
      }
      if (status >= 500 && ++failures <= this.options.retries) {
        await this.wait(retryAfterSeconds(response) ?? backoffSeconds(failures), `${status} ${code}`)
        continue
      }
      return fail(items, code, message)
    }
  }

  /** Waits before trying again; a stop ends the wait (and the batch is left unfinished). */
  private async wait (seconds: number, reason: string) {
    this.options.onWait?.(seconds, reason)
    await sleep(seconds * 1000, undefined, { signal: this.stopping.signal }).catch(() => {})
  }
}

function answersEvery (body: unknown, count: number): body is ImportAnswer {
  const results = (body as ImportAnswer | undefined)?.results
  return Array.isArray(results) && results.length === count
}

/**
 * The gateway's error body: `{statusCode, code, error, message, requestId}`; code and message are what count,
 * printable (whatever answers may put escape sequences in them).
 */
function errorAnswer (body: unknown): ErrorAnswer | undefined {
  const { code, message } = (body ?? {}) as Partial<Record<string, unknown>>
  return typeof code === 'string' && typeof message === 'string' ? { code: printable(code), message: printable(message) } : undefined
}

function settle (items: Item[], body: ImportAnswer) {
  items.forEach((item, index) => {
    const result = body.results![index]!
    const status = result.status === 'created' || result.status === 'existing' ? result.status : 'failed'
    const code = typeof result.code === 'string' ? printable(result.code) : 'FAILED'
    const message = typeof result.message === 'string' ? printable(result.message) : undefined
    item.outcome = status === 'failed' ? { status, code, message } : { status }
  })
}

function fail (items: Item[], code: string, message: string) {
  for (const item of items) item.outcome = { status: 'failed', code, message }
}

/** Retry-After in seconds (RFC 9110: a number of seconds or an HTTP date), capped at 10 minutes. */
function retryAfterSeconds (response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  if (value === null) return undefined
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), 600) : undefined
}

/** Where a redirect points (origin and path only: a Location may carry credentials or tokens) and what to do. */
function redirectProblem (response: Response, gatewayUrl: string): string {
  const location = response.headers.get('location')
  let target = 'no Location'
  try {
    if (location !== null) {
      const url = new URL(location, `${gatewayUrl}/users/import`)
      target = `${url.origin}${url.pathname}`
    }
  } catch {
    target = 'an invalid Location'
  }
  return `the gateway answered ${response.status} redirecting to ${target}; redirects are not followed (they would take the API key ` +
    'and the rows elsewhere): set GATEWAY_URL to the address that serves /users/import'
}

const backoffSeconds = (attempt: number) => Math.min(2 ** (attempt - 1), 30)

function causeOf (error: unknown): string {
  const cause = (error as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'the name does not resolve',
  EAI_AGAIN: 'the name does not resolve',
  UND_ERR_CONNECT_TIMEOUT: 'no connection within 10 s',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset'
}

function networkProblem (error: unknown): string {
  const cause = causeOf(error)
  const meaning = NETWORK_PROBLEMS[cause]
  return meaning === undefined ? cause : `${meaning} (${cause})`
}
