import { connect } from 'node:net'
import t from 'tap'
import { buildMetricsApp } from '../../src/http/metrics-app.js'
import { buildGateway, gatewayConfig, rawConnection, startOpenIm, waitFor } from '../helper.js'

interface Teardown { teardown (fn: () => unknown): void }

/** The METRICS_PORT listener of a test gateway, listening on a loopback port. */
async function metricsListener (t: Teardown) {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { METRICS_PORT: '0' })
  const metricsApp = await buildMetricsApp(gatewayConfig(emulator.url, { METRICS_PORT: '0' }), app.metrics, app.log)
  t.teardown(() => metricsApp.close())
  await metricsApp.listen({ port: 0, host: '127.0.0.1' })
  return { metricsApp, port: (metricsApp.server.address() as { port: number }).port }
}

/** A raw connection from a loopback address of its own (a peer other than Prometheus, on 127.0.0.1). */
const peer = rawConnection

/** One scrape on a fresh connection, as Prometheus makes one every 15–60 s. */
function scrape (port: number): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let received = ''
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
    socket.on('data', (chunk) => { received += chunk })
    socket.on('error', reject)
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0)
      if (status === 0) reject(new Error(`the scrape got no answer (${received.length} bytes)`))
      else resolve({ status })
    })
    socket.write('GET /metrics HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n')
  })
}

t.test('an idle connection to the metrics port is closed soon, not after HTTP_KEEP_ALIVE_TIMEOUT_MS', async (t) => {
  const { port } = await metricsListener(t)
  const idle = await peer(t, port, '127.0.0.2')
  idle.socket.write('GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n')
  await waitFor(() => idle.received.includes('openim_gateway_'), 'the scrape to be answered')
  // A bound from the setting, not a margin: the gateway's keep-alive would hold it open twice as long.
  const { keepAliveTimeoutMs } = gatewayConfig('http://127.0.0.1:1').http
  await waitFor(() => idle.closedAt !== undefined, 'the idle connection to be closed before half HTTP_KEEP_ALIVE_TIMEOUT_MS', keepAliveTimeoutMs / 2)
  t.pass('closed long before HTTP_KEEP_ALIVE_TIMEOUT_MS')
})

t.test('peers holding idle and dripping connections cannot keep Prometheus out', async (t) => {
  const { metricsApp, port } = await metricsListener(t)
  const peers: Array<Awaited<ReturnType<typeof peer>>> = []
  for (let i = 0; i < 6; i++) {
    const idle = await peer(t, port, '127.0.0.2')
    idle.socket.write('GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n')
    peers.push(idle)
  }
  for (let i = 0; i < 6; i++) {
    const dripping = await peer(t, port, '127.0.0.3')
    dripping.socket.write('GET /metrics HTTP/1.1\r\nHost: gateway\r\nX-Drip: ')
    peers.push(dripping)
  }
  const drip = setInterval(() => { for (const { socket } of peers) if (!socket.destroyed) socket.write('a') }, 200)
  t.teardown(() => clearInterval(drip))
  await waitFor(() => peers.filter((connection) => connection.closedAt !== undefined).length >= 4, 'the peers beyond their share to be closed')
  for (let i = 0; i < 3; i++) t.equal((await scrape(port)).status, 200, `scrape ${i + 1}`)
  t.ok(peers.filter((connection) => connection.closedAt !== undefined).length >= 4, 'two per peer address closed on arrival')
  t.ok((await new Promise<number>((resolve) => metricsApp.server.getConnections((_error, count) => resolve(count)))) <= 8, 'each peer holds 4 at most')
})
