import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import cliProgress from 'cli-progress'
import type { RowOutcome } from './uploader.js'

export interface Tally { rows: number, created: number, existing: number, failed: number, bytes: number }

export interface ProgressOptions {
  /** Size of the input in bytes (progress and ETA are measured in bytes read), 0 when unknown. */
  totalBytes: number
  /** A live bar on a terminal, else a line every `intervalMs`. */
  tty: boolean
  intervalMs: number
  failuresPath?: string
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
}

const SHOWN_FAILURES = 10

/** What the user sees while the import runs and after: progress, failed rows, the summary. */
export class Progress {
  readonly tally: Tally = { rows: 0, created: 0, existing: 0, failed: 0, bytes: 0 }
  private readonly started = Date.now()
  private readonly bar?: cliProgress.SingleBar
  private readonly timer?: NodeJS.Timeout
  private readonly failures?: WriteStream
  private readonly shownFailures: string[] = []

  constructor (private readonly options: ProgressOptions) {
    if (options.failuresPath !== undefined) this.failures = createWriteStream(options.failuresPath)
    if (options.tty) {
      this.bar = new cliProgress.SingleBar({
        stream: options.err,
        format: 'importing {bar} {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted} | created {created}, existing {existing}, failed {failed}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5
      }, cliProgress.Presets.shades_classic)
      this.bar.start(Math.max(options.totalBytes, 1), 0, this.payload())
    } else {
      this.timer = setInterval(() => this.line(), options.intervalMs)
    }
  }

  /** Rows finished (imported, existing or failed). */
  record (outcomes: RowOutcome[]) {
    for (const outcome of outcomes) {
      this.tally.rows += 1
      this.tally.bytes += outcome.row.bytes
      this.tally[outcome.status] += 1
      if (outcome.status === 'failed') this.recordFailure(outcome)
    }
    this.bar?.update(this.tally.bytes, this.payload())
  }

  /** A pause before a retry (429, 503, network trouble), shown once per pause. */
  waiting (seconds: number, reason: string) {
    const text = `waiting ${seconds.toFixed(seconds < 10 ? 1 : 0)} s before retrying a batch: ${reason}`
    if (this.bar === undefined) this.options.err.write(`${text}\n`)
  }

  async finish (fatal?: string): Promise<void> {
    clearInterval(this.timer)
    this.bar?.update(this.options.totalBytes, this.payload())
    this.bar?.stop()
    if (this.failures !== undefined) {
      this.failures.end()
      await once(this.failures, 'close')
    }
    const { rows, created, existing, failed } = this.tally
    const seconds = (Date.now() - this.started) / 1000
    const out = this.options.out
    out.write(`${fatal === undefined ? 'done' : 'stopped'}: ${rows} rows in ${seconds.toFixed(1)} s (${this.rate()} rows/s): ` +
      `${created} created, ${existing} existing, ${failed} failed\n`)
    if (failed > 0 && this.options.failuresPath !== undefined) out.write(`failed rows written to ${this.options.failuresPath}\n`)
    if (failed > 0 && this.options.failuresPath === undefined) {
      out.write(`first failed rows (use --failures <path> to keep them all):\n${this.shownFailures.join('\n')}\n`)
    }
    if (fatal !== undefined) this.options.err.write(`error: ${fatal}\n`)
  }

  private recordFailure ({ row, code, message }: RowOutcome) {
    const entry = JSON.stringify({ line: row.line, userID: row.user?.userID, code, message })
    if (this.shownFailures.length < SHOWN_FAILURES) this.shownFailures.push(entry)
    this.failures?.write(`${entry}\n`)
  }

  private line () {
    const { rows, created, existing, failed, bytes } = this.tally
    const total = this.options.totalBytes
    const share = total > 0 ? ` (${Math.min(100, Math.floor((bytes / total) * 100))}%)` : ''
    const rate = this.rate()
    const eta = total > 0 && bytes > 0 ? `, ETA ${Math.ceil(((total - bytes) / bytes) * (Date.now() - this.started) / 1000)} s` : ''
    this.options.err.write(`progress: ${rows} rows${share}, ${rate} rows/s${eta}: ${created} created, ${existing} existing, ${failed} failed\n`)
  }

  private rate (): number {
    const seconds = (Date.now() - this.started) / 1000
    return seconds > 0 ? Math.round(this.tally.rows / seconds) : 0
  }

  private payload () {
    const { rows, created, existing, failed } = this.tally
    return { rows, rate: this.rate(), created, existing, failed }
  }
}
