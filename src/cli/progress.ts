import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import cliProgress from 'cli-progress'
import { printable, printableJson } from './terminal-text.js'
import type { RowOutcome } from './uploader.js'

export interface Tally { records: number, created: number, existing: number, failed: number, notAttempted: number, bytes: number }

export interface ProgressOptions {
  /** Size of the input in bytes (progress and ETA are measured in bytes read), 0 when unknown. */
  totalBytes: number
  /** A live bar on a terminal, else a line every `intervalMs`. */
  tty: boolean
  intervalMs: number
  failuresPath?: string
  /** Add to the failures file rather than replace it (a resumed run keeps the interrupted run's failures). */
  appendFailures: boolean
  /** Print the summary as one JSON object; every other line goes to `err`. */
  json: boolean
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
}

export interface Ending {
  /** Lines of the file read (the header, blank lines and the lines before --from-line included). */
  lines: number
  /** Where to resume (--from-line), when the run stopped before the end. */
  resumeFromLine?: number
  /** Why it stopped before the end: a signal, or what made the run impossible. */
  stoppedBy?: string
  error?: string
}

const SHOWN_FAILURES = 10

/** What the user sees while the import runs and after: progress, failed rows, the summary. */
export class Progress {
  readonly tally: Tally = { records: 0, created: 0, existing: 0, failed: 0, notAttempted: 0, bytes: 0 }
  private readonly started = Date.now()
  private readonly bar?: cliProgress.SingleBar
  private readonly timer?: NodeJS.Timeout
  private readonly failures?: WriteStream
  private readonly shownFailures: string[] = []

  constructor (private readonly options: ProgressOptions) {
    if (options.failuresPath !== undefined) {
      this.failures = createWriteStream(options.failuresPath, { flags: options.appendFailures ? 'a' : 'w' })
    }
    if (options.tty) {
      this.bar = new cliProgress.SingleBar({
        stream: options.err,
        format: 'importing {bar} {percentage}% | {records} records | {rate} records/s | ETA {eta_formatted} | ' +
          'created {created}, existing {existing}, failed {failed}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5
      }, cliProgress.Presets.shades_classic)
      this.bar.start(Math.max(options.totalBytes, 1), 0, this.payload())
    } else {
      this.timer = setInterval(() => this.line(), options.intervalMs)
    }
  }

  /** Records finished (created, existing, failed, or given up), in file order. */
  record (outcomes: RowOutcome[]) {
    for (const outcome of outcomes) {
      this.tally.records += 1
      this.tally.bytes += outcome.row.bytes
      this.tally[outcome.status] += 1
      if (outcome.status === 'failed') this.recordFailure(outcome)
    }
    this.bar?.update(this.tally.bytes, this.payload())
  }

  /** A pause before a retry (429, 503, network trouble), shown once per pause. */
  waiting (seconds: number, reason: string) {
    const text = `waiting ${seconds.toFixed(seconds < 10 ? 1 : 0)} s before retrying a batch: ${printable(reason)}`
    if (this.bar === undefined) this.options.err.write(`${text}\n`)
  }

  async finish (ending: Ending): Promise<void> {
    clearInterval(this.timer)
    this.bar?.update(this.tally.bytes, this.payload())
    this.bar?.stop()
    if (this.failures !== undefined) {
      this.failures.end()
      await once(this.failures, 'close')
    }
    const { records, created, existing, failed, notAttempted } = this.tally
    const seconds = (Date.now() - this.started) / 1000
    const info = this.options.json ? this.options.err : this.options.out
    if (ending.error !== undefined) this.options.err.write(`error: ${printable(ending.error)}\n`)
    if (failed > 0 && this.options.failuresPath !== undefined) info.write(`failed rows written to ${this.options.failuresPath}\n`)
    if (failed > 0 && this.options.failuresPath === undefined) {
      info.write(`first failed rows (use --failures <path> to keep them all):\n${this.shownFailures.join('\n')}\n`)
    }
    if (ending.resumeFromLine !== undefined) {
      info.write(`${ending.stoppedBy ?? 'stopped'}: to finish the import, run it again with --from-line ${ending.resumeFromLine} ` +
        '(the records before that line are done)\n')
    }
    if (this.options.json) {
      this.options.out.write(JSON.stringify({
        records,
        lines: ending.lines,
        created,
        existing,
        failed,
        notAttempted,
        resumeFromLine: ending.resumeFromLine ?? null,
        seconds: Math.round(seconds * 1000) / 1000
      }) + '\n')
    } else {
      this.options.out.write(`done: ${records} records (${ending.lines} lines) in ${seconds.toFixed(1)} s (${this.rate()} records/s): ` +
        `${created} created, ${existing} existing, ${failed} failed, ${notAttempted} not attempted\n`)
    }
  }

  private recordFailure ({ row, code, message }: RowOutcome) {
    const entry = printableJson({ line: row.line, userID: row.user?.userID, code, message })
    if (this.shownFailures.length < SHOWN_FAILURES) this.shownFailures.push(entry)
    this.failures?.write(`${entry}\n`)
  }

  private line () {
    const { records, created, existing, failed, bytes } = this.tally
    const total = this.options.totalBytes
    const share = total > 0 ? ` (${Math.min(100, Math.floor((bytes / total) * 100))}%)` : ''
    const rate = this.rate()
    const eta = total > 0 && bytes > 0 ? `, ETA ${Math.ceil(((total - bytes) / bytes) * (Date.now() - this.started) / 1000)} s` : ''
    this.options.err.write(`progress: ${records} records${share}, ${rate} records/s${eta}: ` +
      `${created} created, ${existing} existing, ${failed} failed\n`)
  }

  private rate (): number {
    const seconds = (Date.now() - this.started) / 1000
    return seconds > 0 ? Math.round(this.tally.records / seconds) : 0
  }

  private payload () {
    const { records, created, existing, failed } = this.tally
    return { records, rate: this.rate(), created, existing, failed }
  }
}
