import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import t from 'tap'
import { describeTls } from '../../src/doctor/checks/connection.js'
import type { Report } from '../../src/doctor/report.js'
import { check, closedPort, doctor, doctorEnv, startDoctorOpenIm } from './helper.js'

interface Teardown { teardown (fn: () => unknown): void }

const fixtures = new URL('../fixtures/tls/', import.meta.url)
const certificatePath = new URL('cert.pem', fixtures).pathname
const doctorEntry = new URL('../../dist/doctor.js', import.meta.url).pathname

/** HTTPS in front of the emulator, as a TLS-terminating proxy would be, with the test certificate for localhost. */
async function tlsProxy (t: Teardown, upstreamUrl: string): Promise<number> {
  const upstream = new URL(upstreamUrl)
  const sockets = new Set<Socket>()
  const server = createTlsServer({ key: readFileSync(new URL('key.pem', fixtures)), cert: readFileSync(certificatePath) }, (socket) => {
    const target = connect(Number(upstream.port), upstream.hostname)
    for (const end of [socket, target]) {
      sockets.add(end)
      end.on('error', () => { socket.destroy(); target.destroy() })
    }
    socket.pipe(target).pipe(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as AddressInfo).port
}

t.test('nothing listening: the setting and the usual address are named', async (t) => {
  const reachable = check(await doctor(`http://127.0.0.1:${await closedPort()}`), 'openim.reachable')
  t.equal(reachable.status, 'fail')
  t.match(reachable.summary, /OpenIM is unreachable \(ECONNREFUSED\)/)
  t.match(reachable.hint, /nothing listens there: OPENIM_API_URL must be OpenIM's REST API \(port 10002/)
})

t.test('a redirect is not followed: the address it points at is the fix', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const redirector = createHttpServer((req, res) => { res.writeHead(301, { location: `${emulator.url}${req.url ?? ''}` }).end() }).listen(0, '127.0.0.1')
  await once(redirector, 'listening')
  t.teardown(() => { redirector.closeAllConnections(); redirector.close() })
  const reachable = check(await doctor(`http://127.0.0.1:${(redirector.address() as AddressInfo).port}`), 'openim.reachable')
  t.equal(reachable.status, 'fail')
  t.match(reachable.summary, `HTTP 301 redirect to ${emulator.url}/auth/parse_token: the gateway does not follow redirects`)
  t.equal(reachable.hint, `set OPENIM_API_URL to ${emulator.url}`)
})

t.test('a redirect without a Location still says the gateway will not follow it', async (t) => {
  const redirector = createHttpServer((_req, res) => { res.writeHead(302).end() }).listen(0, '127.0.0.1')
  await once(redirector, 'listening')
  t.teardown(() => { redirector.closeAllConnections(); redirector.close() })
  const reachable = check(await doctor(`http://127.0.0.1:${(redirector.address() as AddressInfo).port}`), 'openim.reachable')
  t.equal(reachable.summary, 'HTTP 302 redirect: the gateway does not follow redirects')
  t.equal(reachable.hint, 'set OPENIM_API_URL to the address OpenIM really answers at')
})

t.test('a Go server without OpenIM\'s routes (openim-chat, the websocket port): the ports are named', async (t) => {
  const other = createHttpServer((_req, res) => { res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found') }).listen(0, '127.0.0.1')
  await once(other, 'listening')
  t.teardown(() => { other.closeAllConnections(); other.close() })
  const generation = check(await doctor(`http://127.0.0.1:${(other.address() as AddressInfo).port}`), 'openim.generation')
  t.equal(generation.status, 'fail')
  t.match(generation.hint, /must be OpenIM's REST API \(port 10002\), not openim-chat \(10008\) or the websocket \(10001\)/)
})

t.test('a JSON server that is not OpenIM is not taken for one', async (t) => {
  const other = createHttpServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}') }).listen(0, '127.0.0.1')
  await once(other, 'listening')
  t.teardown(() => { other.closeAllConnections(); other.close() })
  const generation = check(await doctor(`http://127.0.0.1:${(other.address() as AddressInfo).port}`), 'openim.generation')
  t.equal(generation.status, 'fail')
  t.match(generation.summary, /not OpenIM's answer \(\/auth\/get_admin_token: OpenIM answered JSON without a numeric errCode\)/)
})

t.test('the TLS line: protocol, certificate, expiry, and a warning two weeks before it runs out', async (t) => {
  const tls = { protocol: 'TLSv1.3', subject: 'im.example.com', issuer: 'R3', validTo: '2027-01-10T00:00:00.000Z' }
  t.same(describeTls(tls, Date.parse('2026-11-25')), { text: 'TLSv1.3, certificate for im.example.com by R3 valid until 2027-01-10', expiresSoon: false })
  t.equal(describeTls(tls, Date.parse('2027-01-01')).expiresSoon, true)
  t.same(describeTls(undefined), { text: 'plain http', expiresSoon: false })
  t.same(describeTls({ protocol: null }), { text: 'TLS, certificate for ? valid until ?', expiresSoon: false })
})

t.test('an empty 500 is a server error, not OpenIM answering', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  emulator.injectFault('*', { kind: 'empty' }, Infinity)
  const reachable = check(await doctor(emulator.url), 'openim.reachable')
  t.equal(reachable.status, 'fail')
  t.match(reachable.summary, /an empty server error answered with HTTP 500/)
})

t.test('TLS: an untrusted certificate is named with the way to trust it; https on a plain port too', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const port = await tlsProxy(t, emulator.url)
  const untrusted = check(await doctor(`https://localhost:${port}`), 'openim.reachable')
  t.equal(untrusted.status, 'fail')
  t.match(untrusted.summary, /\(DEPTH_ZERO_SELF_SIGNED_CERT\)/)
  t.match(untrusted.hint, /NODE_EXTRA_CA_CERTS/)

  const plain = check(await doctor(emulator.url.replace('http:', 'https:')), 'openim.reachable')
  t.equal(plain.status, 'fail')
  t.match(plain.hint, /use http:\/\//)
})

t.test('TLS: a trusted certificate is reported with its protocol, name and expiry (the built doctor, as operators run it)', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const port = await tlsProxy(t, emulator.url)
  const child = spawn(process.execPath, [doctorEntry, '--json'], {
    env: { PATH: process.env.PATH ?? '', ...doctorEnv(`https://localhost:${port}`), NODE_EXTRA_CA_CERTS: certificatePath },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  const [code] = await once(child, 'exit')
  const report = JSON.parse(output) as Report
  t.equal(code, 0)
  const reachable = check(report, 'openim.reachable')
  t.equal(reachable.status, 'pass')
  t.match(reachable.summary, /TLSv1\.3, certificate for localhost by localhost valid until 2126-/)
  t.match(reachable.facts, { tls: { protocol: 'TLSv1.3', subject: 'localhost', validTo: /^2126-/ } })
  t.equal(check(report, 'openim.admin').status, 'pass', 'and OpenIM behind it is checked as usual')
})
