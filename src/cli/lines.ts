import { isUtf8 } from 'node:buffer'

/** One line of the input file. */
export interface Line {
  /** 1-based line number; a BOM and the "\r" of "\r\n" add none. */
  number: number
  /** The text without its line break; undefined when `problem` says why it was not read. */
  text?: string
  /** What ended the line: "\n", "\r\n", or "" for a last line without one. */
  eol: string
  /** Bytes of the file the line takes, its break included (progress is measured in bytes). */
  bytes: number
  problem?: string
}

const NEWLINE = 0x0a
const CR = 0x0d
const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * Cuts a byte stream into lines without ever holding more than `maxBytes` of one. readline would buffer a whole
 * line, so a single 100 MB line would take the heap with it; here a longer line is reported with its number and
 * skipped to its end, its bytes dropped as they arrive. The buffers pushed may be reused by the caller afterwards:
 * what is kept of them is copied.
 */
export class LineSplitter {
  /** Lines seen so far. */
  count = 0
  private pieces: Buffer[] = []
  private held = 0
  /** Bytes of the current line beyond `maxBytes`, dropped (the line is too long). */
  private dropped = 0

  constructor (private readonly maxBytes: number) {}

  * push (chunk: Buffer): Generator<Line> {
    let start = 0
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start)
      if (end === -1) {
        this.hold(chunk.subarray(start))
        return
      }
      yield this.finish(chunk.subarray(start, end), '\n')
      start = end + 1
    }
  }

  /** The last line, if the file does not end with a line break. */
  * end (): Generator<Line> {
    if (this.held > 0 || this.dropped > 0) yield this.finish(Buffer.alloc(0), '')
  }

  private hold (piece: Buffer) {
    if (piece.length === 0) return
    if (this.dropped > 0 || this.held + piece.length > this.maxBytes) {
      this.dropped += this.held + piece.length
      this.pieces = []
      this.held = 0
      return
    }
    this.pieces.push(Buffer.from(piece))
    this.held += piece.length
  }

  private finish (tail: Buffer, newline: string): Line {
    // Most lines lie within one chunk: read them where they are, without a copy.
    const whole = this.held === 0 && this.dropped === 0 && tail.length <= this.maxBytes
    if (!whole) this.hold(tail)
    const number = ++this.count
    const bytes = (whole ? tail.length : this.held + this.dropped) + newline.length
    const dropped = this.dropped
    let raw = whole ? tail : this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.held)
    this.pieces = []
    this.held = 0
    this.dropped = 0
    if (dropped > 0) {
      const problem = `the line is longer than the largest valid row (${this.maxBytes} bytes): ${dropped} bytes`
      return { number, eol: newline, bytes, problem }
    }
    let eol = newline
    if (newline === '\n' && raw.length > 0 && raw[raw.length - 1] === CR) {
      raw = raw.subarray(0, raw.length - 1)
      eol = '\r\n'
    }
    // The BOM is no part of the first line's text (its bytes still count towards progress).
    if (number === 1 && raw.subarray(0, 3).equals(BOM)) raw = raw.subarray(3)
    if (!isUtf8(raw)) return { number, eol, bytes, problem: 'the line is not valid UTF-8 text' }
    return { number, text: raw.toString('utf8'), eol, bytes }
  }
}
