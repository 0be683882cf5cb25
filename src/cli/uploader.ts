import { setTimeout as sleep } from 'node:timers/promises'
import type { Row } from './rows.js'

export interface RowOutcome { row: Row, status: 'created' | 'existing' | 'failed', code?: string, message?: string }

export interface UploaderOptions {
  gatewayUrl: string
  apiKey?: string
  concurrency: number
  batchSize: number
  /** Attempts after the first for a batch that failed with 5xx or a network error. */
  retries: number
  timeoutMs: number
  onDone: (outcomes: RowOutcome[]) => void
  /** Told when a batch waits before trying again (429, 503, a failure). */
  onWait?: (seconds: number, reason: string) => void
  sleep?: (ms: number) => Promise<unknown>
}

/** Thrown when no batch can succeed (bad API key, wrong URL): the run stops. */
export class FatalError extends Error {}

// Most users take a few hundred bytes; a batch stays well inside the gateway's default IMPORT_BODY_LIMIT_BYTES (4 MiB).
const BATCH_BYTES = 1024 * 1024
// 429 (and 503 OVERLOADED) is the gateway pacing us: wait as told, however often, within reason.
const MAX_RATE_LIMIT_WAITS = 1000

interface ImportAnswer { results?: Array<{ status?: string, code?: string, message?: string }> }

/**
 * Sends rows to POST /users/import in batches, with at most `concurrency` requests in flight; the reader
 * waits while they are, so memory stays flat whatever the file size.
 */
export class Uploader {
  private batch: Row[] = []
  private batchBytes = 0
  private readonly inFlight = new Set<Promise<void>>()
  private fatal?: FatalError
  private readonly sleep: (ms: number) => Promise<unknown>

  constructor (private readonly options: UploaderOptions) {
    this.sleep = options.sleep ?? ((ms) => sleep(ms))
  }

  async add (row: Row): Promise<void> {
    if (this.fatal !== undefined) throw this.fatal
    if (row.user === undefined) return this.options.onDone([{ row, status: 'failed', code: 'INVALID_ROW', message: row.problem }])
    const size = JSON.stringify(row.user).length + 1
    if (this.batch.length > 0 && (this.batch.length >= this.options.batchSize || this.batchBytes + size > BATCH_BYTES)) await this.flush()
    this.batch.push(row)
    this.batchBytes += size
  }

  async finish (): Promise<void> {
    if (this.batch.length > 0) await this.flush()
    await Promise.all(this.inFlight)
    if (this.fatal !== undefined) throw this.fatal
  }

  private async flush (): Promise<void> {
    const rows = this.batch
    this.batch = []
    this.batchBytes = 0
    while (this.inFlight.size >= this.options.concurrency) await Promise.race(this.inFlight)
    if (this.fatal !== undefined) throw this.fatal
    const sending: Promise<void> = this.send(rows)
      .catch((error) => { this.fatal ??= error instanceof FatalError ? error : new FatalError(String(error)) })
      .finally(() => this.inFlight.delete(sending))
    this.inFlight.add(sending)
  }

  private async send (rows: Row[]): Promise<void> {
    let failures = 0
    let rateLimited = 0
    for (;;) {
      let response: Response
      try {
        response = await fetch(`${this.options.gatewayUrl}/users/import`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.options.apiKey !== undefined && { 'x-api-key': this.options.apiKey }) },
          body: JSON.stringify({ users: rows.map((row) => row.user) }),
          // Following a redirect would send the API key and the rows wherever the Location says.
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs)
        })
      } catch (error) {
        const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : `gateway unreachable (${causeOf(error)})`
        if (++failures > this.options.retries) return this.failAll(rows, 'GATEWAY_UNREACHABLE', reason)
        await this.wait(backoffSeconds(failures), reason)
        continue
      }
      if (response.status >= 300 && response.status < 400) throw new FatalError(redirectProblem(response, this.options.gatewayUrl))
      const body = await response.json().catch(() => undefined) as (ImportAnswer & { code?: string, message?: string }) | undefined
      if (response.status === 200) return this.answer(rows, body)
      const code = body?.code ?? `HTTP_${response.status}`
      const message = body?.message ?? `the gateway answered HTTP ${response.status}`
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        throw new FatalError(`the gateway refused the import (${response.status} ${code}): ${message}`)
      }
      if (response.status === 413 || (response.status === 400 && /must NOT have more than \d+ items/.test(message))) {
        if (rows.length === 1) return this.failAll(rows, code, message)
        const half = Math.ceil(rows.length / 2)
        await this.send(rows.slice(0, half))
        return this.send(rows.slice(half))
      }
      // 503 OVERLOADED is the replica's import slots all taken: pacing too, not a failure to count against --retries.
      const busy = response.status === 503 && code === 'OVERLOADED'
      if ((response.status === 429 || busy) && ++rateLimited <= MAX_RATE_LIMIT_WAITS) {
        await this.wait(retryAfterSeconds(response) ?? 1, busy ? 'the gateway is busy' : 'rate limited')
        continue
      }
      if (response.status >= 500 && ++failures <= this.options.retries) {
        await this.wait(retryAfterSeconds(response) ?? backoffSeconds(failures), `${response.status} ${code}`)
        continue
      }
      return this.failAll(rows, code, message)
    }
  }

  private answer (rows: Row[], body: ImportAnswer | undefined) {
    const results = body?.results
    if (!Array.isArray(results) || results.length !== rows.length) return this.failAll(rows, 'BAD_RESPONSE', 'the gateway\'s answer does not list every user')
    this.options.onDone(rows.map((row, index) => {
      const result = results[index]!
      const status = result.status === 'created' || result.status === 'existing' ? result.status : 'failed'
      return status === 'failed' ? { row, status, code: result.code ?? 'FAILED', message: result.message } : { row, status }
    }))
  }

  private failAll (rows: Row[], code: string, message: string) {
    this.options.onDone(rows.map((row) => ({ row, status: 'failed' as const, code, message })))
  }

  private async wait (seconds: number, reason: string) {
    this.options.onWait?.(seconds, reason)
    await this.sleep(seconds * 1000)
  }
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
