import { stdSerializers, type LoggerOptions } from 'pino'

// The production logger options, in one place: server.ts and buildApp use them, and the tests build every app
// with them (writing to a capture stream), so what the tests see is what operators get.

/** Where credentials sit in what the gateway logs; the values are replaced, the keys stay. */
export const REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["proxy-authorization"]', 'req.headers.cookie', 'req.headers.token',
  'secret', 'token', 'adminToken', '*.secret', '*.token', '*.adminToken'
]

/**
 * The request path without its query string: a client may put a credential there (?access_token=,
 * ?x-api-key=), and no route of the gateway takes query parameters.
 */
export function loggablePath (url: string): string {
  const end = url.search(/[?#]/)
  return (end === -1 ? url : url.slice(0, end)).slice(0, 512)
}

interface LoggedRequest { method?: string, url?: string, headers?: Record<string, unknown>, ip?: string }

/** A request as it appears in a log line: its headers go through REDACTED_PATHS, its URL loses the query. */
function serializeRequest (request: LoggedRequest) {
  return { method: request.method, url: loggablePath(request.url ?? ''), headers: request.headers, ip: request.ip }
}

const MAX_DEPTH = 8

/**
 * A copy of a logged value that holds no raw bytes: Node's HTTP parser attaches the whole packet it refused
 * (`rawPacket`, API key and bearer token included) to its errors, and any Buffer can hold the same. Errors
 * become pino's plain error objects on the way, so this works whatever key an error is logged under.
 */
function withoutRawBytes (value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (Array.isArray(value)) return value.map((item) => withoutRawBytes(item, depth + 1))
  const isError = value instanceof Error
  const prototype = Object.getPrototypeOf(value)
  // Anything else with a class of its own (a request, a reply) is left to its serializer.
  if (!isError && prototype !== Object.prototype && prototype !== null && !isPinoError(value)) return value
  const source = isError ? stdSerializers.err(value) : value
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(source)) {
    if (key !== 'rawPacket') copy[key] = withoutRawBytes(item, depth + 1)
  }
  return copy
}

// pino's serialized errors have a prototype of their own; they are plain data all the same.
const pinoErrorPrototype = Object.getPrototypeOf(stdSerializers.err(new Error('probe')))
const isPinoError = (value: object) => Object.getPrototypeOf(value) === pinoErrorPrototype

export function productionLoggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest, err: withoutRawBytes },
    formatters: { log: (object) => withoutRawBytes(object) as Record<string, unknown> }
  }
}
