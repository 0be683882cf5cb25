export interface WarnLogger { warn (fields: object, message: string): void }

const REPORT_EVERY_MS = 60_000

/**
 * Failed span exports (collector down, refused, too slow), reported at most once a minute with a count: a
 * collector that is away must not flood the log, nor go unnoticed. Tracing never fails a request.
 */
export class ExportFailureReport {
  private log?: WarnLogger
  private unreported = 0
  private lastError = ''
  private lastReportAt = Number.NEGATIVE_INFINITY

  constructor (private readonly now: () => number = () => performance.now()) {}

  record (error: unknown) {
    this.unreported++
    // The exporter's messages name the collector's answer or a socket error; cut them short all the same.
    this.lastError = (error instanceof Error ? error.message : String(error)).slice(0, 200)
    if (this.now() - this.lastReportAt >= REPORT_EVERY_MS) this.flush()
  }

  reportTo (log: WarnLogger) {
    this.log = log
    this.flush()
  }

  flush () {
    if (this.log === undefined || this.unreported === 0) return
    this.log.warn({ failures: this.unreported, lastError: this.lastError }, 'tracing: spans could not be exported to the OTLP endpoint')
    this.unreported = 0
    this.lastReportAt = this.now()
  }
}
