import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SECRET, SERVICE_KEY, hold, startOpenIm, waitFor } from '../helper.js'

// The built server as operators run it (`npm start` = node dist/server.js); `npm test` builds first.
const serverEntry = new URL('../../dist/server.js', import.meta.url).pathname

/** The node flags of `npm start` (package.json), so a test runs the server exactly as operators do. */
function startFlags (): string[] {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'))
}

function startServer (env: Record<string, string>, nodeFlags: string[] = []) {
  // Overload shedding off, as in test/helper.ts: a fresh process stalls while it loads, and under-pressure
  // would shed its first requests on a busy machine.
  const child = spawn(process.execPath, [...nodeFlags, serverEntry], {
    env: { PATH: process.env.PATH ?? '', GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  // Teardowns do not run when tap kills a timed-out file; a left-over server would load every later run.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  // The address once the server listens. No deadline of its own: a start takes seconds on a busy machine
  // (tap's file timeout catches a hang), but a process that exits first fails the wait at once.
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const address = /Server listening at (http:\/\/[\d.:]+)/.exec(output)?.[1]
      if (address !== undefined) resolve(address)
    })
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)))
  })
  listening.catch(() => {}) // tests of a refused start never wait for it
  return { child, output: () => output, listening }
}

t.test('npm start\'s flags bound the whole heap, the young generation too, on the Node running this', async (t) => {
  // Node 24 sizes the young generation from the host (64 MB semi-spaces here): beside the 128 MB old space, garbage
  // collection then took 40 % of the gateway's CPU, 4.8 times the CPU per request (docs/figures/performance.md).
  const script = 'const v8 = require("v8"); process.stdout.write(String(v8.getHeapStatistics().heap_size_limit))'
  const limit = Number(spawnSync(process.execPath, [...startFlags(), '-e', script], { encoding: 'utf8' }).stdout)
  const MiB = 1024 * 1024
  t.ok(limit > 0, 'the limit is read')
  // V8's limit is the old space plus three times the semi-space (two semi-spaces and the new large-object space).
  t.ok(limit <= (128 + 3 * 16) * MiB, `heap limit ${limit / MiB} MiB: at most 128 MB old space and 16 MB semi-spaces`)
})

t.test('without any caller authentication the process refuses to start, naming the variables', async (t) => {
  const { child, output } = startServer({ OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: SECRET, GATEWAY_API_KEYS: '' })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  for (const variable of ['GATEWAY_API_KEYS', 'JWT_JWKS_URL', 'JWT_PUBLIC_KEY', 'JWT_SECRET', 'AUTH_DISABLED']) t.match(output(), variable)
})

t.test('AUTH_DISABLED=true and JWT_ALLOW_ANY_AUDIENCE=true start, each with a warning', async (t) => {
  const { child, output } = startServer({
    OPENIM_API_URL: 'http://127.0.0.1:9', OPENIM_SECRET: 'x', GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true', JWT_SECRET: 'x'.repeat(32), JWT_ALLOW_ANY_AUDIENCE: 'true', PORT: '0', HOST: '127.0.0.1'
  })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  t.match(output(), /"level":40.*AUTH_DISABLED/)
  t.match(output(), /"level":40.*JWT_ALLOW_ANY_AUDIENCE/)
  child.kill('SIGTERM')
  await once(child, 'exit')
})

t.test('a bad setting stops the process with a message naming the variable', async (t) => {
  const { child, output } = startServer({ OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: SECRET, OPENIM_TIMEOUT_MS: 'fast' })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(output(), /OPENIM_TIMEOUT_MS/)
  t.notMatch(output(), SECRET)
})

t.test('the server starts with OpenIM down, answers /healthz, warns about a default secret, and exits 0 on SIGTERM', async (t) => {
  const { child, output } = startServer({ OPENIM_API_URL: 'http://127.0.0.1:9', OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  const address = /Server listening at (http:\/\/[\d.:]+)/.exec(output())?.[1]
  const health = await fetch(`${address}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  const provision = await fetch(`${address}/provision`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }, body: '{"userID":"a","platformID":5}' })
  t.equal(provision.status, 503)
  t.match(output(), /default/)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  for (const line of output().trim().split('\n')) t.doesNotThrow(() => JSON.parse(line), 'JSON log lines when stdout is not a terminal')
})

t.test('the server provisions against the emulator, and logs with the production options: at trace, no credential from a malformed request or a query string', async (t) => {
  const emulator = await startOpenIm(t)
  const { child, output } = startServer({ OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  const [, address, host, port] = /Server listening at (http:\/\/([\d.]+):(\d+))/.exec(output()) ?? []
  const response = await fetch(`${address}/provision?x-api-key=${SERVICE_KEY}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }, body: '{"userID":"a","platformID":5}'
  })
  t.equal(response.status, 201)
  const socket = connect(Number(port), host)
  socket.on('error', () => {})
  socket.write(`POST /provision HTTP/1.1\r\nhost: x\r\nx-api-key: ${SERVICE_KEY}\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}`)
  await waitFor(() => /HPE_/.test(output()) && /request completed/.test(output()), 'the parser error\'s log line and the request line')
  t.notMatch(output(), SERVICE_KEY)
  t.notMatch(output(), /rawPacket/)
  t.notMatch(output(), SECRET)
})

t.test('SIGTERM lets an in-flight request finish, refuses new connections, then exits 0', async (t) => {
  const emulator = await startOpenIm(t)
  // OpenIM holds the request's first call until the shutdown has begun: it is in flight, whatever the machine's load.
  const { fault, release } = hold()
  emulator.injectFault('*', fault)
  const { child, output } = startServer({ OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  const address = /Server listening at (http:\/\/[\d.:]+)/.exec(output())?.[1]
  const inFlight = fetch(`${address}/provision`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }, body: '{"userID":"sam","platformID":5}' })
  await waitFor(() => emulator.callCount() > 0, 'the request to reach OpenIM')
  child.kill('SIGTERM')
  await waitFor(() => /shutting down/.test(output()), 'shutdown to start')
  await t.rejects(fetch(`${address}/healthz`), 'no new connections once shutting down')
  release()
  const response = await inFlight
  t.equal(response.status, 201, 'the in-flight provision completed')
  t.equal(((await response.json()) as { userID: string }).userID, 'sam')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
})

t.test('a shutdown that outlasts SHUTDOWN_TIMEOUT_MS answers what is still running 503, logs the ids, and exits 1', async (t) => {
  const emulator = await startOpenIm(t)
  emulator.injectFault('*', { kind: 'hang' }, Infinity)
  const { child, output } = startServer({
    OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '300', OPENIM_TIMEOUT_MS: '60000'
  })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  const address = /Server listening at (http:\/\/[\d.:]+)/.exec(output())?.[1]
  const cut = fetch(`${address}/provision`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY, 'x-request-id': 'cut-by-shutdown' }, body: '{"userID":"tom","platformID":5}'
  })
  await waitFor(() => emulator.callCount() > 0, 'the request to reach OpenIM')
  child.kill('SIGTERM')
  const response = await cut
  t.equal(response.status, 503, 'answered, not reset')
  t.equal(response.headers.get('connection'), 'close')
  t.equal(response.headers.get('retry-after'), '1', 'another replica can take the retry at once')
  t.match(await response.json(), { code: 'SHUTTING_DOWN', requestId: 'cut-by-shutdown' })
  const [code] = await once(child, 'exit')
  // 503 SHUTTING_DOWN, not 504 OPENIM_TIMEOUT: cut at the shutdown timeout, long before the OpenIM timeout.
  t.not(code, 0, 'exits in error when requests were cut')
  const report = output().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)).find((line) => /shutdown timeout/.test(line.msg))
  t.match(report, { level: 50, count: 1, requestIds: ['cut-by-shutdown'] })
})

t.test('METRICS_PORT: the process serves /metrics on its own listener and not on PORT', async (t) => {
  const emulator = await startOpenIm(t)
  const { child, output } = startServer({ OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => (output().match(/Server listening at/g) ?? []).length === 2, 'both listeners')
  const lines = output().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))
  const addressOf = (line: { msg: string }) => /Server listening at (http:\/\/[\d.:]+)/.exec(line.msg)?.[1]
  const api = addressOf(lines.find((line) => /Server listening/.test(line.msg) && line.listener === undefined))
  const metrics = addressOf(lines.find((line) => /Server listening/.test(line.msg) && line.listener === 'metrics'))
  t.equal((await fetch(`${api}/metrics`)).status, 404)
  t.equal((await fetch(`${api}/healthz`)).status, 200)
  const scrape = await fetch(`${metrics}/metrics`)
  t.equal(scrape.status, 200)
  t.match(await scrape.text(), /openim_gateway_http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1/)
  t.equal((await fetch(`${metrics}/healthz`)).status, 404)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
})

t.test('SIGUSR2 writes a heap snapshot into the diagnostic directory and the server keeps serving; SIGTERM then exits 0', async (t) => {
  const diagnosticDir = mkdtempSync(join(tmpdir(), 'gateway-heap-'))
  t.teardown(() => rmSync(diagnosticDir, { recursive: true, force: true }))
  const flags = startFlags().map((flag) => flag.startsWith('--diagnostic-dir=') ? `--diagnostic-dir=${diagnosticDir}` : flag)
  t.ok(flags.includes('--heapsnapshot-signal=SIGUSR2'), 'npm start asks node for a heap snapshot on SIGUSR2')
  const { child, listening, output } = startServer(
    { OPENIM_API_URL: 'http://127.0.0.1:9', OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' }, flags)
  t.teardown(() => { child.kill('SIGKILL') })
  const address = await listening
  child.kill('SIGUSR2')
  await waitFor(() => readdirSync(diagnosticDir).some((file) => file.endsWith('.heapsnapshot')), 'a heap snapshot', 120_000)
  const health = await fetch(`${address}/healthz`)
  t.equal(health.status, 200, 'still serving after the snapshot')
  t.equal(child.exitCode, null)
  t.notMatch(output(), /shutting down/, 'SIGUSR2 is not a shutdown')
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
})

for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
  t.test(`${signal} shuts down gracefully: exits 0`, async (t) => {
    const { child, listening, output } = startServer({ OPENIM_API_URL: 'http://127.0.0.1:9', OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' },
      startFlags())
    t.teardown(() => { child.kill('SIGKILL') })
    await listening
    child.kill(signal)
    const [code] = await once(child, 'exit')
    t.equal(code, 0)
    t.match(output(), new RegExp(`"signal":"${signal}".*"msg":"shutting down`), 'logged as a graceful shutdown')
  })
}
