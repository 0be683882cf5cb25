import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

// A local OTLP/HTTP collector for the tracing tests: it takes what the gateway's exporter sends
// (protobuf, POST /v1/traces), keeps the raw bodies (to search them for leaked credentials) and decodes
// the spans with a small reader of the protobuf wire format and of opentelemetry-proto's trace messages.

export type AttributeValue = string | number | boolean | undefined
export interface ReceivedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  /** 1 internal, 2 server, 3 client. */
  kind: number
  attributes: Record<string, AttributeValue>
  events: Array<{ name: string, attributes: Record<string, AttributeValue> }>
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number, message: string }
}

interface Field { number: number, wire: number, varint: bigint, bytes: Buffer }

function readVarint (buffer: Buffer, offset: number): [bigint, number] {
  let value = 0n
  let shift = 0n
  for (;;) {
    const byte = buffer[offset++]
    if (byte === undefined) throw new Error('truncated varint')
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [value, offset]
    shift += 7n
  }
}

function fields (buffer: Buffer): Field[] {
  const result: Field[] = []
  let offset = 0
  while (offset < buffer.length) {
    const [key, afterKey] = readVarint(buffer, offset)
    const field: Field = { number: Number(key >> 3n), wire: Number(key & 7n), varint: 0n, bytes: Buffer.alloc(0) }
    offset = afterKey
    if (field.wire === 0) [field.varint, offset] = readVarint(buffer, offset)
    else if (field.wire === 1) { field.bytes = buffer.subarray(offset, offset + 8); offset += 8 } else if (field.wire === 5) { field.bytes = buffer.subarray(offset, offset + 4); offset += 4 } else if (field.wire === 2) {
      const [length, afterLength] = readVarint(buffer, offset)
      field.bytes = buffer.subarray(afterLength, afterLength + Number(length))
      offset = afterLength + Number(length)
    } else throw new Error(`unexpected wire type ${field.wire}`)
    result.push(field)
  }
  return result
}

const all = (buffer: Buffer, number: number) => fields(buffer).filter((field) => field.number === number)
const one = (buffer: Buffer, number: number) => all(buffer, number).at(-1)
const text = (buffer: Buffer, number: number) => one(buffer, number)?.bytes.toString('utf8') ?? ''
const hex = (buffer: Buffer, number: number) => one(buffer, number)?.bytes.toString('hex') ?? ''

function anyValue (buffer: Buffer): AttributeValue {
  const [field] = fields(buffer)
  if (field === undefined) return undefined
  switch (field.number) {
    case 1: return field.bytes.toString('utf8')
    case 2: return field.varint !== 0n
    case 3: return Number(BigInt.asIntN(64, field.varint))
    case 4: return field.bytes.readDoubleLE(0)
    default: return `<${field.number}>`
  }
}

function attributes (buffer: Buffer, number: number): Record<string, AttributeValue> {
  return Object.fromEntries(all(buffer, number).map(({ bytes }) => [text(bytes, 1), anyValue(one(bytes, 2)?.bytes ?? Buffer.alloc(0))]))
}

/** ExportTraceServiceRequest → resource_spans → scope_spans → spans. */
export function decodeSpans (body: Buffer): ReceivedSpan[] {
  return all(body, 1).flatMap(({ bytes: resourceSpans }) => {
    const service = String(attributes(one(resourceSpans, 1)?.bytes ?? Buffer.alloc(0), 1)['service.name'])
    return all(resourceSpans, 2).flatMap(({ bytes: scopeSpans }) => all(scopeSpans, 2).map(({ bytes: span }) => {
      const status = one(span, 15)?.bytes ?? Buffer.alloc(0)
      return {
        service,
        traceId: hex(span, 1),
        spanId: hex(span, 2),
        parentSpanId: hex(span, 4),
        name: text(span, 5),
        kind: Number(one(span, 6)?.varint ?? 0n),
        attributes: attributes(span, 9),
        events: all(span, 11).map(({ bytes: event }) => ({ name: text(event, 2), attributes: attributes(event, 3) })),
        status: { code: Number(one(status, 3)?.varint ?? 0n), message: text(status, 2) }
      }
    }))
  })
}

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string
  spans: ReceivedSpan[]
  /** Every request body as received, to search for credentials. */
  bodies: Buffer[]
  requests: Array<{ path: string, headers: IncomingHttpHeaders }>
  close (): Promise<void>
}

export async function startOtlpReceiver (t: { teardown (fn: () => unknown): void }): Promise<OtlpReceiver> {
  const receiver: Omit<OtlpReceiver, 'url' | 'close'> = { spans: [], bodies: [], requests: [] }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks)
      receiver.requests.push({ path: request.url ?? '', headers: request.headers })
      receiver.bodies.push(body)
      receiver.spans.push(...decodeSpans(body))
      // An empty ExportTraceServiceResponse: everything accepted.
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return Object.assign(receiver, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close })
}
