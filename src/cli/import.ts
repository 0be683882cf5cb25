import { stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { Batcher } from './batcher.js'
import { USAGE, clearTextKeyWarning, settings as readSettings, type Settings } from './options.js'
import { Progress } from './progress.js'
import { InputError, RowReader } from './rows.js'
import { Uploader } from './uploader.js'

// `npm run import -- <file>`: streams a CSV or NDJSON file of users through POST /users/import of a running
// gateway. Every record ends created, existing, failed or not attempted, and the summary counts them. Exit 0 when
// every record was created or existed, 1 when one failed, 2 when the run could not be done (bad arguments, an
// unreadable file, no gateway, a refused API key, an answer no gateway gives), 129, 130 or 143 when SIGHUP, SIGINT
// or SIGTERM stopped it (128 + the signal's number, as a shell reports it). SIGHUP (the terminal or SSH session
// closed) stops it gracefully too, rather than killing it with batches in flight and no line to resume from.
const GRACE_MS = 10_000
const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const
type StopSignal = keyof typeof SIGNAL_EXIT_CODES
const STOP_SIGNALS = Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]

async function main (): Promise<number> {
  let options: Settings | undefined
  let size: number
  try {
    options = readSettings(process.argv.slice(2))
    if (options === undefined) {
      process.stdout.write(USAGE)
      return 0
    }
    size = (await stat(options.file)).size
    const warning = clearTextKeyWarning(options)
    if (warning !== undefined) process.stderr.write(warning)
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const progress = new Progress({
    totalBytes: size,
    tty: process.stderr.isTTY === true,
    intervalMs: options.intervalMs,
    failuresPath: options.failures,
    appendFailures: options.fromLine > 1,
    json: options.json,
    out: process.stdout,
    err: process.stderr
  })
  const uploader = options.dryRun
    ? undefined
    : new Uploader({ ...options, timeoutMs: 120_000, onWait: (seconds, reason) => progress.waiting(seconds, reason) })
  const batcher = new Batcher({
    ...options,
    send: uploader === undefined ? undefined : (items) => uploader.send(items),
    confirmed: () => uploader?.confirmed ?? true,
    onDone: (outcomes) => progress.record(outcomes)
  })

  // The first signal stops sending and reading; the batches in flight get GRACE_MS to finish. A second one gives up.
  const reading = new AbortController()
  const stop = () => {
    batcher.stop()
    uploader?.stop()
    reading.abort()
  }
  let signal: StopSignal | undefined
  let giveUp = () => {}
  const gaveUp = new Promise<void>((resolve) => { giveUp = resolve })
  const onSignal = (name: StopSignal) => {
    if (signal !== undefined) {
      process.stderr.write('second signal: stopping now; the batches in flight are not waited for\n')
      return giveUp()
    }
    signal = name
    process.stderr.write(`${name}: stopping; waiting up to ${GRACE_MS / 1000} s for the batches in flight ` +
      '(a second signal stops at once)\n')
    stop()
  }
  for (const name of STOP_SIGNALS) process.on(name, onSignal)

  const reader = new RowReader(options.file, { ...options, signal: reading.signal })
  let inputError: string | undefined
  let complete = false
  try {
    for await (const row of reader.rows()) if (!await batcher.add(row)) break
    if (!batcher.stopped) await batcher.finish()
    complete = !batcher.stopped
  } catch (error) {
    // A stop aborts the read; anything else the reader throws is the file's problem (a wrong header, EIO).
    if (!reading.signal.aborted) {
      if (!(error instanceof InputError || (error as NodeJS.ErrnoException).code !== undefined)) throw error
      inputError = (error as Error).message
    }
  }
  if (!complete) {
    stop()
    const grace = new AbortController()
    const graceOver = await Promise.race([
      batcher.idle().then(() => false),
      gaveUp.then(() => false),
      sleep(GRACE_MS, true, { signal: grace.signal })
    ])
    grace.abort()
    if (graceOver) process.stderr.write(`the batches still in flight after ${GRACE_MS / 1000} s are given up\n`)
    uploader?.abort()
    await batcher.idle()
  }
  batcher.close(complete)
  const error = batcher.fatal?.message ?? inputError
  await progress.finish({
    lines: reader.lines,
    resumeFromLine: batcher.resumeFromLine,
    stoppedBy: signal !== undefined ? `interrupted by ${signal}` : 'stopped',
    error
  })
  for (const name of STOP_SIGNALS) process.off(name, onSignal)
  if (signal !== undefined) return SIGNAL_EXIT_CODES[signal]
  if (error !== undefined) return 2
  return progress.tally.failed > 0 ? 1 : 0
}

process.exitCode = await main()
