import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import t from 'tap'
import { KeyNames } from '../../src/redis/key-names.js'
import { Agent, fetch } from 'undici'
import { SECRET, SERVICE_KEY, openImCall, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'

// Two gateway processes (`node dist/server.js`, as operators run them) sharing one real redis-server, in front
// of one OpenIM: the token one replica minted is the token every replica hands out, and the cluster mints at
// most once at a time for a user and platform.

const serverEntry = new URL('../../dist/server.js', import.meta.url).pathname
const JWT_SHAPE = /eyJ[\w-]{2,}\.eyJ[\w-]{2,}\./

interface Replica { child: ChildProcess, url: string, output: () => string }

async function startReplica (t: { teardown (fn: () => unknown): void }, env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [serverEntry], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`,
      OPENIM_SECRET: SECRET,
      HOST: '127.0.0.1',
      PORT: '0',
      // No load shedding and no rate limit: these tests are about the shared store and lock.
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
      RATE_LIMIT_MAX: '100000',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (chunk) => { output += chunk })
  child.stderr?.on('data', (chunk) => { output += chunk })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  })
  await waitFor(() => /Server listening at/.test(output) || child.exitCode !== null, 'the replica to listen')
  const url = /Server listening at (http:\/\/[\d.:]+)/.exec(output)?.[1]
  if (url === undefined) throw new Error(`the replica did not start: ${output}`)
  return { child, url, output: () => output }
}

async function twoReplicas (t: Parameters<typeof startRedis>[0], openimUrl: string, env: Record<string, string> = {}) {
  const redis = await startRedis(t)
  const shared = { OPENIM_API_URL: openimUrl, REDIS_URL: redis.url, ...env }
  return [...await Promise.all([startReplica(t, shared), startReplica(t, shared)]), redis.url] as const
}

function client (t: { teardown (fn: () => unknown): void }) {
  const agent = new Agent({ connections: 64 })
  t.teardown(() => agent.destroy())
  return async (replica: Replica, body: unknown) => {
    const response = await fetch(`${replica.url}/provision`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY }, body: JSON.stringify(body), dispatcher: agent
    })
    return { status: response.status, json: await response.json() as Record<string, any> }
  }
}

const metric = async (replica: Replica, name: string) =>
  Number(new RegExp(`^openim_gateway_${name} (\\d+)$`, 'm').exec(await (await fetch(`${replica.url}/metrics`)).text())?.[1] ?? 0)

t.test('a token minted through one replica is handed out by the other, confirmed with one OpenIM call', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startOpenIm(t)
  const [a, b] = await twoReplicas(t, emulator.url)
  const post = client(t)
  const first = await post(a, { userID: 'yara', platformID: 5 })
  t.equal(first.status, 201)
  emulator.resetCounts()
  const second = await post(b, { userID: 'yara', platformID: 5 })
  t.equal(second.status, 200)
  t.match(second.json, { token: first.json.token, reused: true, created: false })
  t.same(emulator.recentCalls.map((call) => call.path).filter((path) => path !== '/auth/get_admin_token'), ['/auth/parse_token'])
  t.match((await openImCall(emulator.url, '/auth/parse_token', { token: first.json.token })).json, { errCode: 0 }, 'nobody was logged out')
  for (const replica of [a, b]) t.notMatch(replica.output(), JWT_SHAPE, 'no token in the logs')
})

t.test('50 concurrent provisions of one new user split across both replicas: one registration, one mint, one token', async (t) => {
  if (skipWithoutRedis(t)) return
  // Some latency, so that the two replicas' flows overlap.
  const emulator = await startOpenIm(t, { latencyMs: 20 })
  const [a, b] = await twoReplicas(t, emulator.url)
  const post = client(t)
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 === 0 ? a : b, { userID: 'zane', platformID: 5 })))
  t.same([...new Set(answers.map((answer) => answer.status))].sort(), [200, 201], 'every answer a success (201 where the registering flow answered)')
  t.equal(new Set(answers.map((answer) => answer.json.token)).size, 1, 'one token for all')
  t.equal(emulator.callCount('/user/user_register'), 1)
  t.equal(emulator.callCount('/auth/get_user_token'), 1)
  t.match((await openImCall(emulator.url, '/auth/parse_token', { token: answers[0]?.json.token })).json, { errCode: 0 })
})

t.test('a lock holder killed mid-flow: the other replica takes over when its lease runs out, within its own deadline', async (t) => {
  if (skipWithoutRedis(t)) return
  const emulator = await startOpenIm(t)
  // The lease is REQUEST_DEADLINE_MS + OPENIM_TIMEOUT_MS = 12 s after the holder last renewed it (just before its
  // mint). The second request is sent once Redis says the lease has under half a deadline left: its own deadline
  // then ends at least 5 s after the lease, read from Redis rather than from a clock racing a busy machine.
  const [a, b, redisUrl] = await twoReplicas(t, emulator.url, { REQUEST_DEADLINE_MS: '10000', OPENIM_TIMEOUT_MS: '2000' })
  const post = client(t)
  emulator.injectFault('/auth/get_user_token', { kind: 'hang' })
  const doomed = post(a, { userID: 'abel', platformID: 5 }).catch(() => undefined)
  await waitFor(() => emulator.callCount('/auth/get_user_token') === 1, 'the first replica to be minting')
  a.child.kill('SIGKILL')
  await doomed
  const admin = new Redis(redisUrl)
  t.teardown(() => admin.disconnect())
  const lockKey = new KeyNames(SECRET).pair({ userID: 'abel', platformID: 5 }).lock
  await waitFor(async () => { const left = await admin.pttl(lockKey); return left > 0 && left < 5000 }, 'the dead holder\'s lease to have under half a deadline left')

  const answer = await post(b, { userID: 'abel', platformID: 5 })
  t.equal(answer.status, 200, 'answered, not 504')
  t.match(answer.json, { userID: 'abel', reused: false })
  t.equal(await metric(b, 'mint_lock_waits_total'), 1, 'it found the dead holder\'s lock and waited')
  t.equal(await metric(b, 'mint_lock_takeovers_total'), 1, 'then minted itself')
  t.equal(emulator.callCount('/auth/get_user_token'), 2)
  t.match((await openImCall(emulator.url, '/auth/parse_token', { token: answer.json.token })).json, { errCode: 0 })
})
