import { execFile, execFileSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { SERVICE_KEY, buildGateway, startOpenIm } from '../helper.js'

// examples/python/provision.py as a Python service runs it (standard library only), against a gateway listening on
// a real port in front of the emulator.
const script = new URL('../../examples/python/provision.py', import.meta.url).pathname
const hasPython = (() => {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** Says loudly why the example is not run; under CI a missing python3 fails instead (.ci/run installs it). */
function skipWithoutPython (t: { skip (...args: any[]): unknown }): boolean {
  if (hasPython) return false
  const message = 'python3 is not installed: the Python example is NOT RUN (apt-get install -y python3)'
  if (process.env.CI !== undefined) throw new Error(`${message}; CI must run it`)
  console.error(`\n!!! ${message}\n`)
  t.skip(message)
  return true
}

function runExample (env: Record<string, string>, args: string[]) {
  return new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile('python3', [script, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    })
  })
}

async function listeningGateway (t: Test, env: Record<string, string> = {}) {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'warn', ...env })
  const statuses: number[] = []
  app.addHook('onResponse', async (_request, reply) => { statuses.push(reply.statusCode) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { emulator, statuses, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

t.test('the Python example provisions a user and prints the answer, apiAddr and wsAddr included', async (t) => {
  if (skipWithoutPython(t)) return
  const { emulator, statuses, url } = await listeningGateway(t, {
    OPENIM_PUBLIC_API_URL: 'https://im.example.com/api', OPENIM_PUBLIC_WS_URL: 'wss://im.example.com/msg_gateway'
  })
  const run = await runExample({ GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY }, ['py_user_1', '2', 'Py User'])
  t.equal(run.code, 0, run.stderr)
  t.match(JSON.parse(run.stdout), {
    userID: 'py_user_1', platformID: 2, token: /\S{20,}/, created: true, apiAddr: 'https://im.example.com/api', wsAddr: 'wss://im.example.com/msg_gateway'
  })
  t.equal(emulator.users.get('py_user_1')?.nickname, 'Py User')
  t.same(statuses, [201])
})

t.test('a refusal prints the gateway\'s status, code and requestId, and exits 1', async (t) => {
  if (skipWithoutPython(t)) return
  const { statuses, url } = await listeningGateway(t)
  const run = await runExample({ GATEWAY_URL: url, GATEWAY_API_KEY: 'not-the-key' }, ['py_user_2'])
  t.equal(run.code, 1)
  t.match(run.stderr.trim(), /^401 UNAUTHENTICATED: .+ \(requestId \S+\)$/)
  t.equal(run.stdout, '')
  t.same(statuses, [401], 'one request: a 401 is not tried again')
})

t.test('a gateway that does not answer is named GATEWAY_UNREACHABLE, without a traceback', async (t) => {
  if (skipWithoutPython(t)) return
  const { url } = await listeningGateway(t)
  const run = await runExample({ GATEWAY_URL: url.replace(/:\d+$/, ':1'), GATEWAY_API_KEY: SERVICE_KEY }, ['py_user_3'])
  t.equal(run.code, 1)
  t.match(run.stderr, /^0 GATEWAY_UNREACHABLE: /)
  t.notMatch(run.stderr, /Traceback/)
})
