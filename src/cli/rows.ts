import { open } from 'node:fs/promises'
import { IMPORT_ROW_LIMITS, importRowProblem } from '../http/schemas/import-row.js'
import { CsvRecords, type CsvRecord } from './csv.js'
import { LineSplitter, type Line } from './lines.js'

export interface ImportUser { userID: string, nickname?: string, faceURL?: string, ex?: string }

/** One record of the input: a user to send, or what is wrong with the record (reported, never sent). */
export interface Row {
  /** Why the record fails without being sent: INVALID_ROW (malformed), or the code the gateway would answer. */
  code?: string
  /** 1-based line of the file where the record starts. */
  line: number
  /** The line reading went on from after this record (a resumed run starting there skips it). */
  nextLine: number
  /** Bytes of the file read since the previous row (progress and ETA are measured in bytes). */
  bytes: number
  /** The user the record holds (also when it breaks a rule, unless its userID is too long to show). */
  user?: ImportUser
  problem?: string
}

export type Format = 'csv' | 'ndjson'

export interface ReadOptions {
  format: Format
  /** Lines a quoted CSV field may span (--max-record-lines). */
  maxRecordLines: number
  /** Records starting before this line are read (a CSV's header, its quoted line breaks) but not yielded. */
  fromLine: number
  signal?: AbortSignal
}

const FIELDS = ['userID', 'nickname', 'faceURL', 'ex'] as const
type Field = typeof FIELDS[number]

// The largest a valid row can be in the file: userID, nickname, faceURL and ex at their longest (the gateway's limits),
// each character as 12 bytes (a JSON \u escape of each half of a surrogate pair), plus 1 KiB for the field names and
// separators. A longer line or record fails without being read into memory.
export const MAX_ROW_BYTES = 12 * Object.values(IMPORT_ROW_LIMITS).reduce((sum, limit) => sum + limit, 0) + 1024

/** Thrown when the file as a whole cannot be imported (a wrong CSV header). */
export class InputError extends Error {}

/**
 * The records of a CSV (header `userID,nickname,faceURL,ex`, any order, only userID required) or NDJSON file,
 * streamed, with at most one row's bytes held. `lines` says how many lines have been read.
 */
export class RowReader {
  private readonly splitter = new LineSplitter(MAX_ROW_BYTES)
  private read = 0
  private counted = 0

  constructor (private readonly path: string, private readonly options: ReadOptions) {}

  get lines (): number { return this.splitter.count }

  async * rows (): AsyncGenerator<Row> {
    const records = this.options.format === 'csv' ? new CsvRows(this.options.maxRecordLines) : new NdjsonRows()
    // One buffer, read into again and again: a 100 MB line costs no allocation at all (the splitter copies what it keeps).
    const chunk = Buffer.allocUnsafe(64 * 1024)
    const file = await open(this.path)
    try {
      for (;;) {
        if (this.options.signal?.aborted === true) return
        const { bytesRead } = await file.read(chunk, 0, chunk.length, null)
        if (bytesRead === 0) break
        for (const line of this.splitter.push(chunk.subarray(0, bytesRead))) {
          this.read += line.bytes
          for (const row of records.accept(line)) if (row.line >= this.options.fromLine) yield this.counting(row)
        }
      }
    } finally {
      await file.close()
    }
    for (const line of this.splitter.end()) {
      this.read += line.bytes
      for (const row of records.accept(line)) if (row.line >= this.options.fromLine) yield this.counting(row)
    }
    for (const row of records.end()) if (row.line >= this.options.fromLine) yield this.counting(row)
  }

  private counting (row: Omit<Row, 'bytes'>): Row {
    const bytes = this.read - this.counted
    this.counted = this.read
    return { ...row, bytes }
  }
}

interface RecordReader {
  accept (line: Line): Iterable<Omit<Row, 'bytes'>>
  end (): Iterable<Omit<Row, 'bytes'>>
}

class CsvRows implements RecordReader {
  private readonly records: CsvRecords
  private header?: Field[]

  constructor (maxRecordLines: number) {
    this.records = new CsvRecords(maxRecordLines, MAX_ROW_BYTES)
  }

  * accept (line: Line) {
    for (const record of this.records.accept(line)) yield * this.row(record)
  }

  * end () {
    for (const record of this.records.end()) yield * this.row(record)
  }

  private * row ({ line, nextLine, fields, problem }: CsvRecord): Generator<Omit<Row, 'bytes'>> {
    if (this.header === undefined) {
      this.header = header(line, fields, problem)
      return
    }
    if (fields === undefined) return yield { line, nextLine, code: 'INVALID_ROW', problem: `malformed CSV: ${problem}` }
    if (fields.length !== this.header.length) {
      const mismatch = `malformed CSV: ${fields.length} fields where the header has ${this.header.length}`
      return yield { line, nextLine, code: 'INVALID_ROW', problem: mismatch }
    }
    const values: Partial<Record<Field, string>> = {}
    this.header.forEach((name, index) => { values[name] = fields[index] })
    yield rowOf(line, nextLine, toUser(values))
  }
}

function header (line: number, fields: string[] | undefined, problem: string | undefined): Field[] {
  if (fields === undefined) throw new InputError(`the CSV header (line ${line}) cannot be read: ${problem}`)
  const unknown = fields.filter((name) => !(FIELDS as readonly string[]).includes(name))
  if (unknown.length > 0 || !fields.includes('userID') || new Set(fields).size !== fields.length) {
    throw new InputError('the CSV header must name the columns userID,nickname,faceURL,ex (userID required, each at most once); ' +
      `got "${fields.join(',')}"`)
  }
  return fields as Field[]
}

class NdjsonRows implements RecordReader {
  * accept ({ number: line, text, problem }: Line): Generator<Omit<Row, 'bytes'>> {
    const nextLine = line + 1
    if (text === undefined) return yield { line, nextLine, code: 'INVALID_ROW', problem }
    if (text.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return yield { line, nextLine, code: 'INVALID_ROW', problem: `malformed JSON: ${(error as Error).message}` }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return yield { line, nextLine, code: 'INVALID_ROW', problem: 'each line must be a JSON object' }
    }
    const unknown = Object.keys(value).find((key) => !(FIELDS as readonly string[]).includes(key))
    if (unknown !== undefined) {
      return yield { line, nextLine, code: 'INVALID_ROW', problem: `unknown field "${unknown}" (only userID, nickname, faceURL, ex)` }
    }
    yield rowOf(line, nextLine, toUser(value as Record<Field, unknown>))
  }

  end () { return [] }
}

/** A record's row: malformed, breaking a rule the gateway applies to every user (checked here, not sent), or a user to send. */
function rowOf (line: number, nextLine: number, user: ImportUser | string): Omit<Row, 'bytes'> {
  if (typeof user === 'string') return { line, nextLine, code: 'INVALID_ROW', problem: user }
  const broken = importRowProblem(user)
  if (broken === undefined) return { line, nextLine, user }
  // A userID too long to be one is not repeated in the failures.
  const shown = user.userID.length <= IMPORT_ROW_LIMITS.userID ? user : undefined
  return { line, nextLine, code: broken.code, problem: broken.message, user: shown }
}

function toUser (values: Partial<Record<Field, unknown>>): ImportUser | string {
  const user: Record<string, string> = {}
  for (const field of FIELDS) {
    const value = values[field]
    // Empty cells (and JSON nulls) are left out: the gateway's defaults apply.
    if (value === undefined || value === null || (value === '' && field !== 'userID')) continue
    if (typeof value !== 'string') return `${field} must be a string`
    user[field] = value
  }
  if (user.userID === undefined) return 'userID is missing'
  return user as unknown as ImportUser
}
