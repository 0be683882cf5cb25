import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

// A local OTLP/HTTP collector for `npm run bench`, in its own process: it accepts what the gateway exports,
// counts the spans (so the bench can tell whether any were dropped on the way) and throws them away.

function readVarint (buffer: Buffer, offset: number): [number, number] {
  let value = 0
  let factor = 1
  for (;;) {
    const byte = buffer[offset++]
    if (byte === undefined) throw new Error('truncated varint')
    value += (byte & 0x7f) * factor
    if ((byte & 0x80) === 0) return [value, offset]
    factor *= 128
  }
}

/** The length-delimited fields numbered `number` of a protobuf message. */
function embedded (message: Buffer, number: number): Buffer[] {
  const found: Buffer[] = []
  let offset = 0
  while (offset < message.length) {
    const [key, afterKey] = readVarint(message, offset)
    const wire = key % 8
    offset = afterKey
    if (wire === 0) offset = readVarint(message, offset)[1]
    else if (wire === 1) offset += 8
    else if (wire === 5) offset += 4
    else if (wire === 2) {
      const [length, start] = readVarint(message, offset)
      if (Math.floor(key / 8) === number) found.push(message.subarray(start, start + length))
      offset = start + length
    } else throw new Error(`unexpected wire type ${wire}`)
  }
  return found
}

/** ExportTraceServiceRequest → resource_spans (1) → scope_spans (2) → spans (2). */
const countSpans = (body: Buffer) => embedded(body, 1)
  .flatMap((resource) => embedded(resource, 2))
  .reduce((sum, scope) => sum + embedded(scope, 2).length, 0)

let spans = 0
const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    spans += countSpans(Buffer.concat(chunks))
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
  })
}).listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
})
process.on('message', (message: { id: number }) => { process.send?.({ id: message.id, spans }) })
process.on('disconnect', () => { process.exit(0) })
