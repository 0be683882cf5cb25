import type { Line } from './lines.js'

/** One CSV record: its fields, or what is wrong with it. */
export interface CsvRecord {
  /** The line the record starts on. */
  line: number
  /** The line reading went on from after it. */
  nextLine: number
  fields?: string[]
  problem?: string
}

const QUOTE = 0x22
const COMMA = 0x2c

/**
 * RFC 4180 records from lines: fields separated by ",", optionally quoted with '"' ('""' is a quote inside quotes),
 * line breaks allowed inside quotes. csv-parse cannot resynchronise after an unclosed quote (it takes the rest of the
 * file for one field, or drops it), so records are found here, and a malformed one costs only itself:
 * - a quote in the wrong place (inside an unquoted field, text after a closing quote) fails the record on that line;
 * - a quoted field still open after `maxLines` lines or `maxBytes` bytes, at a line that cannot be read, or at the
 *   end of the file fails the record that opened it, and reading restarts at the line after that record's first
 *   line: the lines read since are read again, so an unterminated quote costs exactly its record.
 * At most one record's lines are held, and a record is at most `maxBytes` long.
 */
export class CsvRecords {
  /** The lines of a record still open (a quoted field spans them). */
  private open: Line[] = []
  private openBytes = 0
  private fields: string[] = []
  private field = ''
  private quoted = false

  constructor (private readonly maxLines: number, private readonly maxBytes: number) {}

  * accept (line: Line): Generator<CsvRecord> {
    const first = this.open[0]?.number ?? line.number
    if (line.text === undefined) {
      if (this.open.length === 0) return yield { line: line.number, nextLine: line.number + 1, problem: line.problem }
      return yield * this.restart(`a quoted field is not closed properly (line ${line.number}: ${line.problem})`, line)
    }
    if (this.open.length === 0 && line.text.trim() === '') return
    const outcome = this.read(line.text, line.eol)
    if (outcome === 'complete') {
      const fields = this.fields
      this.reset()
      return yield { line: first, nextLine: line.number + 1, fields }
    }
    if (outcome !== 'open') {
      if (this.open.length > 0) return yield * this.restart(`a quoted field is not closed properly (line ${line.number}: ${outcome})`, line)
      this.reset()
      return yield { line: line.number, nextLine: line.number + 1, problem: outcome }
    }
    this.open.push(line)
    this.openBytes += line.bytes
    if (this.open.length >= this.maxLines) {
      yield * this.restart(`a quoted field is not closed within ${this.maxLines} lines (--max-record-lines)`)
    } else if (this.openBytes > this.maxBytes) {
      yield * this.restart(`a quoted field is not closed within the largest valid row (${this.maxBytes} bytes)`)
    }
  }

  /** At the end of the file: a record still open fails, and the lines after its first are read again. */
  * end (): Generator<CsvRecord> {
    if (this.open.length > 0) yield * this.restart('a quoted field is not closed by the end of the file')
  }

  /** Fails the open record at its first line, then reads again the lines after that one (and `current`). */
  private * restart (problem: string, current?: Line): Generator<CsvRecord> {
    const [first, ...rest] = this.open
    this.reset()
    yield { line: first!.number, nextLine: first!.number + 1, problem }
    for (const line of rest) yield * this.accept(line)
    if (current !== undefined) yield * this.accept(current)
    // Lines read again may leave a record open; if the file has ended, end() closes it.
  }

  private reset () {
    this.open = []
    this.openBytes = 0
    this.fields = []
    this.field = ''
    this.quoted = false
  }

  /** Reads one line into the record: 'complete', 'open' (a quoted field goes on to the next line), or what is wrong. */
  private read (text: string, eol: string): string {
    let at = 0
    for (;;) {
      if (!this.quoted) {
        if (text.charCodeAt(at) === QUOTE) {
          this.quoted = true
          at += 1
        } else {
          const comma = text.indexOf(',', at)
          const value = text.slice(at, comma === -1 ? text.length : comma)
          const field = this.fields.length + 1
          if (value.includes('"')) return `field ${field} has a quote but does not start with one (quote the field, doubling it)`
          this.fields.push(value)
          if (comma === -1) return 'complete'
          at = comma + 1
          continue
        }
      }
      const quote = text.indexOf('"', at)
      if (quote === -1) {
        this.field += text.slice(at) + eol
        return 'open'
      }
      this.field += text.slice(at, quote)
      if (text.charCodeAt(quote + 1) === QUOTE) {
        this.field += '"'
        at = quote + 2
        continue
      }
      this.quoted = false
      this.fields.push(this.field)
      this.field = ''
      at = quote + 1
      if (at === text.length) return 'complete'
      if (text.charCodeAt(at) !== COMMA) return `field ${this.fields.length} has text after its closing quote (a quote inside is doubled)`
      at += 1
    }
  }
}
