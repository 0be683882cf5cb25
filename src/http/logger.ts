import { stdSerializers, type LoggerOptions } from 'pino'

// The production logger options, in one place: server.ts and buildApp use them, and the tests build every app
// with them (writing to a capture stream), so what the tests see is what operators get.

/**
 * Keys whose values are credentials, wherever they appear in a logged object, at any depth: field names (the
 * secret, an OpenIM token, the admin token) and request header names (an API key, a bearer token, a cookie,
 * OpenIM's token header). The values are replaced, the keys stay.
 */
export const CREDENTIAL_KEYS: ReadonlySet<string> = new Set([
  'secret', 'token', 'adminToken', 'authorization', 'x-api-key', 'proxy-authorization', 'cookie'
])
const REDACTED = '[redacted]'

/**
 * The request path without its query string: a client may put a credential there (?access_token=,
 * ?x-api-key=), and no route of the gateway takes query parameters.
 */
export function loggablePath (url: string): string {
  const end = url.search(/[?#]/)
  return (end === -1 ? url : url.slice(0, end)).slice(0, 512)
}

interface LoggedRequest { method?: string, url?: string, headers?: Record<string, unknown>, ip?: string }

/** A request as it appears in a log line: its credential headers redacted, its URL without the query. */
function serializeRequest (request: LoggedRequest) {
  return { method: request.method, url: loggablePath(request.url ?? ''), headers: loggable(request.headers), ip: request.ip }
}

const MAX_DEPTH = 8

/**
 * A logged value as it may be written, built while walking it once: credentials (CREDENTIAL_KEYS) redacted and
 * raw bytes dropped at any depth. Node's HTTP parser attaches the whole packet it refused (`rawPacket`, API key
 * and bearer token included) to its errors, and any Buffer can hold the same. Errors become pino's plain error
 * objects on the way, so this works whatever key an error is logged under. Redaction by construction instead of
 * pino's `redact` paths: those ran a redactor (a clone and a JSON.stringify) on every key of every line, the
 * costliest part of writing one. What needs no change is returned as it is, so a line of plain fields (most
 * lines) is not copied at all.
 */
export function loggable (value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item = loggable(value[i], depth + 1)
      if (item !== value[i]) (copy ??= [...value])[i] = item
    }
    return copy ?? value
  }
  const isError = value instanceof Error
  const prototype = Object.getPrototypeOf(value)
  // Anything else with a class of its own (a request, a reply) is left to its serializer.
  if (!isError && prototype !== Object.prototype && prototype !== null && !isPinoError(value)) return value
  // pino's serialized error is a fresh object: it can be changed in place.
  const source = (isError ? stdSerializers.err(value) : value) as Record<string, unknown>
  let copy = isError ? source : undefined
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue
    const item = source[key]
    if (key === 'rawPacket') {
      copy ??= { ...source }
      delete copy[key]
      continue
    }
    const written = CREDENTIAL_KEYS.has(key) && item !== undefined && item !== null ? REDACTED : loggable(item, depth + 1)
    if (written !== item) (copy ??= { ...source })[key] = written
  }
  return copy ?? source
}

// pino's serialized errors have a prototype of their own; they are plain data all the same.
const pinoErrorPrototype = Object.getPrototypeOf(stdSerializers.err(new Error('probe')))
const isPinoError = (value: object) => Object.getPrototypeOf(value) === pinoErrorPrototype

export function productionLoggerOptions (level: string): LoggerOptions {
  return {
    level,
    serializers: { req: serializeRequest, err: loggable },
    formatters: { log: (object) => loggable(object) as Record<string, unknown> }
  }
}
