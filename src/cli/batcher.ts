import type { Row } from './rows.js'
import type { Item, RowOutcome } from './uploader.js'

export interface BatcherOptions {
  /** Records per batch (sent or not: rows that failed already ride along, so the window stays bounded). */
  batchSize: number
  /** Batches in flight once the gateway has answered; before that, one. */
  concurrency: number
  /** Sends a batch's users, settling their items; absent with --dry-run (nothing is sent). */
  send?: (items: Item[]) => Promise<void>
  /** Whether the gateway has answered yet. */
  confirmed: () => boolean
  /** Outcomes, in file order. */
  onDone: (outcomes: RowOutcome[]) => void
  /** The first line this run reads records from (--from-line). */
  fromLine: number
}

// Most users take a few hundred bytes; a batch stays well inside the gateway's default IMPORT_BODY_LIMIT_BYTES (4 MiB).
const BATCH_BYTES = 1024 * 1024

class Batch {
  readonly items: Item[] = []
  readonly sendable: Item[] = []
  /** userID → the line it first appears on in this batch. */
  readonly lines = new Map<string, number>()
  bytes = 0
  settled = false
}

/**
 * Groups rows into batches in file order, sends them with at most `concurrency` in flight, and reports every row's
 * outcome in file order. At most 2 × concurrency batches are held, so memory stays flat whatever the file size.
 * A stop (a signal, a fatal error) sends nothing more; close() then reports what is left as not attempted and says
 * where to resume: the first line of the earliest unfinished batch.
 */
export class Batcher {
  stopped = false
  fatal?: Error
  /** Where a new run should start to finish the job; undefined when nothing is left. */
  resumeFromLine?: number
  private forming = new Batch()
  private readonly window: Batch[] = []
  private readonly sending = new Set<Promise<void>>()
  private nextLine: number
  private rows = 0
  private wake: () => void = () => {}
  private readonly stopSignal = new Promise<void>((resolve) => { this.wake = resolve })

  constructor (private readonly options: BatcherOptions) {
    this.nextLine = options.fromLine
  }

  /** Adds the next row; false once the run is stopping (read no further). */
  async add (row: Row): Promise<boolean> {
    const batch = this.forming
    const item: Item = { row }
    this.nextLine = row.nextLine
    this.rows += 1
    batch.items.push(item)
    const user = row.user
    if (row.problem !== undefined || user === undefined) {
      item.outcome = { status: 'failed', code: row.code ?? 'INVALID_ROW', message: row.problem }
    } else if (batch.lines.has(user.userID)) {
      const first = batch.lines.get(user.userID)
      item.outcome = { status: 'failed', code: 'DUPLICATE_IN_BATCH', message: `line ${first} has the same userID; only the first is sent` }
    } else {
      batch.lines.set(user.userID, row.line)
      batch.sendable.push(item)
      batch.bytes += JSON.stringify(user).length + 1
    }
    if (this.stopped) return false
    if (batch.items.length >= this.options.batchSize || batch.bytes >= BATCH_BYTES) return this.seal()
    return true
  }

  /** After the last row: sends what is left and waits for every batch, unless stopped. */
  async finish (): Promise<void> {
    if (this.forming.items.length > 0 && !await this.seal()) return
    while (this.sending.size > 0 && !this.stopped) await Promise.race([...this.sending, this.stopSignal])
  }

  /** Sends nothing more. */
  stop () {
    this.stopped = true
    this.wake()
  }

  /** Every send has ended. */
  async idle (): Promise<void> {
    await Promise.all(this.sending)
  }

  /** Reports every row not reported yet, those without an outcome as not attempted, and sets resumeFromLine. */
  close (complete: boolean) {
    if (this.forming.items.length > 0) this.window.push(this.forming)
    this.forming = new Batch()
    for (const batch of this.window) batch.settled = true
    this.report()
    // Nothing read (a wrong header, a signal before the first record): there is nothing to resume, only to run again.
    if (!complete && this.rows > 0) this.resumeFromLine ??= this.nextLine
  }

  private async seal (): Promise<boolean> {
    const batch = this.forming
    this.forming = new Batch()
    this.window.push(batch)
    const send = this.options.send
    if (batch.sendable.length === 0 || send === undefined) {
      // --dry-run: the rows are valid, and deliberately not sent.
      for (const item of batch.sendable) item.outcome = { status: 'notAttempted' }
      batch.settled = true
      this.report()
      return !this.stopped
    }
    const full = () => this.sending.size >= this.inFlightLimit() || this.window.length > 2 * this.options.concurrency
    while (!this.stopped && this.sending.size > 0 && full()) {
      await Promise.race([...this.sending, this.stopSignal])
    }
    // Not sent: its users are not attempted.
    if (this.stopped) return false
    const sending: Promise<void> = send(batch.sendable)
      .catch((error: unknown) => {
        this.fatal ??= error as Error
        this.stop()
      })
      .finally(() => {
        batch.settled = true
        this.sending.delete(sending)
        this.report()
      })
    this.sending.add(sending)
    return true
  }

  /** One batch until the gateway has answered (so a wrong GATEWAY_URL costs one request), then `concurrency`. */
  private inFlightLimit (): number {
    return this.options.confirmed() ? this.options.concurrency : 1
  }

  /** Reports the settled batches at the head of the window, in order. */
  private report () {
    while (this.window[0]?.settled === true) {
      const batch = this.window.shift()!
      const unfinished = batch.items.some((item) => item.outcome === undefined)
      if (unfinished) this.resumeFromLine ??= batch.items[0]!.row.line
      this.options.onDone(batch.items.map(({ row, outcome }) => ({ row, ...(outcome ?? { status: 'notAttempted' as const }) })))
    }
  }
}
