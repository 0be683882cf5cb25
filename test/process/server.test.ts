import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { SECRET, startOpenIm } from '../helper.js'

// The built server as operators run it (`npm start` = node dist/server.js); `npm test` builds first.
const serverEntry = new URL('../../dist/server.js', import.meta.url).pathname

function startServer (env: Record<string, string>) {
  const child = spawn(process.execPath, [serverEntry], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  return { child, output: () => output }
}

async function waitFor (check: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

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
  const provision = await fetch(`${address}/provision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userID":"a","platformID":5}' })
  t.equal(provision.status, 503)
  t.match(output(), /default/)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  for (const line of output().trim().split('\n')) t.doesNotThrow(() => JSON.parse(line), 'JSON log lines when stdout is not a terminal')
})

t.test('the server provisions against the emulator', async (t) => {
  const emulator = await startOpenIm(t)
  const { child, output } = startServer({ OPENIM_API_URL: emulator.url, OPENIM_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /Server listening at/.test(output()), 'listening')
  const address = /Server listening at (http:\/\/[\d.:]+)/.exec(output())?.[1]
  const response = await fetch(`${address}/provision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userID":"a","platformID":5}' })
  t.equal(response.status, 201)
  t.notMatch(output(), SECRET)
})
