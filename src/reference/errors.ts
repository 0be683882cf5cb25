import { ERROR_CODES } from '../errors.js'
import { code, table } from './markdown.js'

// The error table: every code the gateway answers with (src/errors.ts), by status.

export function errorsTable (): string {
  const rows = Object.entries(ERROR_CODES)
    .sort(([, a], [, b]) => a.status - b.status)
    .map(([name, { status, when }]) => [String(status), code(name), when])
  return table(['status', 'code', 'when'], rows)
}
