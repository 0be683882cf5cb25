import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { SERVICE_KEY, buildGateway, provision, startOpenIm, waitFor } from '../helper.js'
import { JWT_SECRET, bearer, signHs256 } from '../jwt.js'

/** Writes raw bytes to the listening app and waits until the server has closed the connection. */
async function sendRaw (app: FastifyInstance, request: string): Promise<string> {
  const { port } = app.server.address() as AddressInfo
  const socket = connect(port, '127.0.0.1')
  let answer = ''
  socket.on('data', (chunk) => { answer += chunk })
  socket.on('error', () => {})
  socket.write(request)
  await new Promise((resolve) => socket.on('close', resolve))
  return answer
}

t.test('at trace, requests the HTTP parser refuses are logged without their raw bytes, whatever they carry', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'trace', JWT_SECRET, JWT_ALLOW_ANY_AUDIENCE: 'true' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const jwt = await signHs256({ sub: 'zoe' })
  const credentials = `x-api-key: ${SERVICE_KEY}\r\nauthorization: Bearer ${jwt}\r\n`
  const malformed = {
    'two Content-Lengths': `POST /provision HTTP/1.1\r\nhost: x\r\n${credentials}content-length: 2\r\ncontent-length: 3\r\n\r\n{}`,
    'Content-Length with Transfer-Encoding': `POST /provision HTTP/1.1\r\nhost: x\r\n${credentials}content-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    'oversized headers': `POST /provision HTTP/1.1\r\nhost: x\r\n${credentials}x-filler: ${'a'.repeat(20_000)}\r\n\r\n`
  }
  for (const [what, request] of Object.entries(malformed)) {
    const before = logs.lines.length
    t.match(await sendRaw(app, request), /^HTTP\/1\.1 4\d\d/, `${what}: refused`)
    const parserLine = (record: Record<string, unknown>) => record.msg === 'request refused by the HTTP parser'
    await waitFor(() => logs.records.slice(before).some(parserLine), `${what}: the parser error's log line`)
    const line = logs.records.slice(before).find(parserLine)!
    t.notMatch(JSON.stringify(line), /rawPacket/, `${what}: no rawPacket`)
    t.match(line, { parserError: /^HPE_/ }, `${what}: the parser's error code is kept`)
  }
  t.same(logs.leaks(), [], 'no credential in any line')
})

t.test('errors and buffers logged under any key lose their raw bytes', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  const parserError = Object.assign(new Error('Parse Error: Duplicate Content-Length'), { code: 'HPE_UNEXPECTED_CONTENT_LENGTH', rawPacket: Buffer.from(`x-api-key: ${SERVICE_KEY}`) })
  app.log.error({ error: parserError, nested: { deeper: { packet: Buffer.from(SERVICE_KEY), bytes: new Uint8Array(Buffer.from(SERVICE_KEY)) } } }, 'odd error')
  app.log.error(parserError)
  const [named, bare] = logs.records.slice(-2) as Array<Record<string, any>>
  t.match(named, { error: { type: 'Error', message: /Duplicate/, code: 'HPE_UNEXPECTED_CONTENT_LENGTH' }, nested: { deeper: { packet: '[27 bytes]', bytes: '[27 bytes]' } } })
  t.notOk('rawPacket' in named!.error)
  t.match(bare, { err: { type: 'Error', code: 'HPE_UNEXPECTED_CONTENT_LENGTH' } })
  t.notOk('rawPacket' in bare!.err)
  t.same(logs.leaks(), [])
})

t.test('credentials in a query string never reach the request line', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_ALLOW_ANY_AUDIENCE: 'true' })
  const jwt = await signHs256({ sub: 'zoe' })
  const response = await app.inject({ method: 'POST', url: `/provision?x-api-key=${SERVICE_KEY}&access_token=${jwt}`, payload: { platformID: 5 }, headers: bearer(jwt) })
  t.equal(response.statusCode, 201)
  const line = logs.records.find((record) => record.msg === 'request completed')
  t.equal(line?.url, '/provision', 'the path, without the query')
  t.same(logs.leaks(), [])
})

t.test('refused requests are logged at debug with the allow-listed headers only: never a credential, whatever its header', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_ALLOW_ANY_AUDIENCE: 'true', LOG_LEVEL: 'debug' })
  const forged = await signHs256({ sub: 'zoe' }, new TextEncoder().encode('not-the-secret-but-32-characters-long'))
  const headers = {
    ...bearer(forged),
    'x-api-key': 'a-wrong-key-0123456789',
    cookie: 'session=s3cr3t-cookie',
    'proxy-authorization': 'Basic cHJveHk6czNjcjN0',
    token: 'an-openim-token-header',
    'x-amz-security-token': 'an-unforeseen-credential',
    'user-agent': 'tests/1.0',
    'x-request-id': 'refused-1'
  }
  logs.watch({
    'the wrong key': 'a-wrong-key-0123456789',
    'the cookie': 's3cr3t-cookie',
    'the proxy credentials': 'cHJveHk6czNjcjN0',
    'the token header': 'an-openim-token-header',
    'a credential in a header nobody listed': 'an-unforeseen-credential'
  })
  t.equal((await provision(app, { platformID: 5 }, headers)).statusCode, 401)
  const line = logs.records.find((record) => record.msg === 'refused request') as { req: { headers: Record<string, string>, url: string } } | undefined
  t.match(line?.req, { url: '/provision' })
  t.same(line?.req.headers, { 'content-type': 'application/json', 'content-length': String(JSON.stringify({ platformID: 5 }).length), 'user-agent': 'tests/1.0', 'x-request-id': 'refused-1' },
    'exactly the allow-listed headers it sent')
  t.same(logs.leaks(), [])
})

t.test('credentials are redacted under their own names at any depth, in lists and in errors; the keys stay', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  const credentials = Object.fromEntries([
    ['secret', 'a-secret-0001'], ['token', 'an-openim-token-0002'], ['adminToken', 'an-admin-token-0003'],
    ['authorization', 'Bearer a-bearer-0004'], ['x-api-key', 'an-api-key-0005'], ['cookie', 'session=a-cookie-0006'],
    ['proxy-authorization', 'Basic a-proxy-0007']
  ])
  logs.watch(credentials)
  const redacted = Object.fromEntries(Object.keys(credentials).map((key) => [key, '[redacted]']))
  app.log.info({ ...credentials, userID: 'kept', nested: { deeper: { ...credentials, list: [{ ...credentials }] } } }, 'plain data')
  app.log.warn({ failure: Object.assign(new Error('odd'), { config: { headers: { ...credentials } } }) }, 'an error')
  const [plain, error] = logs.records.slice(-2) as Array<Record<string, any>>
  t.match(plain, { ...redacted, userID: 'kept', nested: { deeper: { ...redacted, list: [redacted] } } })
  t.match(error, { failure: { message: 'odd', config: { headers: redacted } } })
  t.same(logs.leaks(), [])
})
