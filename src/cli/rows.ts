import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { parse, type CsvError } from 'csv-parse'

/** One row of the input: a user to send, or what is wrong with the row (reported, never sent). */
export interface Row {
  /** 1-based line of the file where the row ends. */
  line: number
  /** Bytes of the file this row accounts for (progress and ETA are measured in bytes). */
  bytes: number
  user?: { userID: string, nickname?: string, faceURL?: string, ex?: string }
  problem?: string
}

export type Format = 'csv' | 'ndjson'

const FIELDS = ['userID', 'nickname', 'faceURL', 'ex'] as const
type Field = typeof FIELDS[number]

/** Thrown when the file as a whole cannot be imported (a wrong CSV header). */
export class InputError extends Error {}

/** The rows of a CSV (header `userID,nickname,faceURL,ex`, any order, only userID required) or NDJSON file, streamed. */
export function readRows (path: string, format: Format): AsyncGenerator<Row> {
  return format === 'csv' ? csvRows(path) : ndjsonRows(path)
}

function toUser (values: Partial<Record<Field, unknown>>): Row['user'] | string {
  const user: Record<string, string> = {}
  for (const field of FIELDS) {
    const value = values[field]
    if (value === undefined || value === null || (value === '' && field !== 'userID')) continue
    if (typeof value !== 'string') return `${field} must be a string`
    user[field] = value
  }
  if (user.userID === undefined) return 'userID is missing'
  return user as Row['user']
}

async function * csvRows (path: string): AsyncGenerator<Row> {
  const skipped: Row[] = []
  const parser = createReadStream(path).pipe(parse({
    bom: true,
    info: true,
    skip_empty_lines: true,
    // A broken row is reported and the rest imported, rather than the file abandoned.
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      skipped.push({ line: (error as { lines?: number } | undefined)?.lines ?? 0, bytes: 0, problem: `malformed CSV row: ${error?.message ?? 'unreadable'}` })
      return undefined
    },
    columns: (header: string[]) => {
      const unknown = header.filter((name) => !(FIELDS as readonly string[]).includes(name))
      if (unknown.length > 0 || !header.includes('userID') || new Set(header).size !== header.length) {
        throw new InputError(`the CSV header must name the columns userID,nickname,faceURL,ex (userID required, each at most once); got "${header.join(',')}"`)
      }
      return header
    }
  }))
  let bytesSeen = 0
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Partial<Record<Field, string>>, info: { lines: number, bytes: number } }>) {
      yield * skipped.splice(0)
      const user = toUser(record)
      const bytes = info.bytes - bytesSeen
      bytesSeen = info.bytes
      yield typeof user === 'string' ? { line: info.lines, bytes, problem: user } : { line: info.lines, bytes, user }
    }
  } catch (error) {
    // csv-parse wraps what the columns callback throws.
    const cause = error instanceof InputError ? error : (error as { cause?: unknown }).cause
    if (cause instanceof InputError) throw cause
    if (/header|column/i.test((error as Error).message)) throw new InputError((error as Error).message)
    throw error
  }
  yield * skipped.splice(0)
}

async function * ndjsonRows (path: string): AsyncGenerator<Row> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let line = 0
  for await (const text of lines) {
    line += 1
    const bytes = Buffer.byteLength(text) + 1
    if (text.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      yield { line, bytes, problem: `malformed JSON: ${(error as Error).message}` }
      continue
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { line, bytes, problem: 'each line must be a JSON object' }
      continue
    }
    const unknown = Object.keys(value).filter((key) => !(FIELDS as readonly string[]).includes(key))
    const user = unknown.length > 0 ? `unknown field "${unknown[0]}" (only userID, nickname, faceURL, ex)` : toUser(value as Record<Field, unknown>)
    yield typeof user === 'string' ? { line, bytes, problem: user } : { line, bytes, user }
  }
}
