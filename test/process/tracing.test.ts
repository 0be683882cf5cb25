import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { SECRET, SERVICE_KEY, startOpenIm, waitFor } from '../helper.js'
import { startOtlpReceiver } from '../otlp-receiver.js'

// The built server as operators run it, with and without an OTLP endpoint. NODE_DEBUG=module makes Node
// list every CommonJS module it loads (the OpenTelemetry packages are CommonJS) on stderr.
const serverEntry = new URL('../../dist/server.js', import.meta.url).pathname

async function startServer (t: { teardown (fn: () => unknown): void }, env: Record<string, string>) {
  // Overload shedding off, as in test/helper.ts and server.test.ts: a fresh process stalls while it loads
  // (more so with NODE_DEBUG=module), and under-pressure shed its first /provision with 503 on a busy machine.
  const child = spawn(process.execPath, [serverEntry], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`,
      OPENIM_SECRET: SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_DEBUG: 'module',
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  await waitFor(() => /Server listening at/.test(stdout), 'listening')
  const address = /Server listening at (http:\/\/[\d.:]+)/.exec(stdout)?.[1] ?? ''
  const loadedPackages = () => new Set([...stderr.matchAll(/load "[^"]*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((match) => match[1]))
  const lines = () => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  return { child, address, loadedPackages, lines, stdout: () => stdout }
}

const provisionRequest = (address: string, headers: Record<string, string> = {}) => fetch(`${address}/provision`, {
  method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY, ...headers }, body: '{"userID":"alice","platformID":5}'
})

// What tracing needs beyond the OpenTelemetry API, which prom-client loads in any case.
const TRACING_PACKAGES = ['@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/core', '@fastify/otel']

t.test('without an OTLP endpoint no OpenTelemetry SDK is loaded, and nothing is propagated', async (t) => {
  const emulator = await startOpenIm(t)
  const server = await startServer(t, { OPENIM_API_URL: emulator.url })
  const response = await provisionRequest(server.address, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
  t.equal(response.status, 201)
  const loaded = server.loadedPackages()
  t.ok(loaded.has('fastify'), 'module loads are visible')
  for (const name of TRACING_PACKAGES) t.notOk(loaded.has(name), `${name} is not loaded`)
  t.ok(emulator.recentCalls.every((call) => call.traceparent === undefined))
  t.ok(server.lines().every((line) => !('trace_id' in line)))
})

t.test('OTEL_SDK_DISABLED=true keeps it off even with an endpoint', async (t) => {
  const server = await startServer(t, { OPENIM_API_URL: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_SDK_DISABLED: 'true' })
  for (const name of TRACING_PACKAGES) t.notOk(server.loadedPackages().has(name), `${name} is not loaded`)
})

t.test('with an endpoint: the trace of a /provision, linked to the log lines, is exported when the process stops', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const emulator = await startOpenIm(t)
  const server = await startServer(t, { OPENIM_API_URL: emulator.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url })
  for (const name of TRACING_PACKAGES) t.ok(server.loadedPackages().has(name), `${name} is loaded`)
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
  const response = await provisionRequest(server.address, { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` })
  t.equal(response.status, 201)
  t.same(receiver.spans, [], 'spans wait in the batch (5 s) until then')

  server.child.kill('SIGTERM')
  const [code] = await once(server.child, 'exit')
  t.equal(code, 0)
  const names = receiver.spans.map((span) => span.name)
  t.ok(names.includes('POST /provision') && names.includes('provision') && names.includes('openim /user/account_check'), names.join(', '))
  t.ok(receiver.spans.length > 0 && receiver.spans.every((span) => span.traceId === callerTrace), 'the caller\'s trace, continued')
  t.ok(emulator.recentCalls.length > 0 && emulator.recentCalls.every((call) => call.traceparent?.includes(callerTrace)))
  const lines = server.lines()
  t.match(lines.find((line) => line.msg === 'request completed'), { trace_id: callerTrace })
  t.match(lines.find((line) => line.msg === 'tracing on: exporting spans over OTLP/HTTP'), { tracing: { serviceName: 'openim-gateway', sampler: 'always_on', endpointHost: receiver.url.replace('http://', '') } })
  t.notMatch(server.stdout(), SECRET)
})
