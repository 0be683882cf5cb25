import t from 'tap'
import { OpenImClient, type OpenImClientOptions } from '../../src/openim/client.js'
import { OpenImError } from '../../src/openim/errors.js'
import { OpenImTransport } from '../../src/openim/transport.js'
import { ADMIN, SECRET, startOpenIm } from '../helper.js'

// The client's finer rules: which refusal is which, how long an admin token is trusted, and that an explicit
// API mode never detects. Each test here was written against a mutant the rest of the suite let through.

function client (t: { teardown (fn: () => unknown): void }, url: string, options: Partial<OpenImClientOptions> = {}) {
  const transport = new OpenImTransport({ baseUrl: url, timeoutMs: 5000, connections: 4, pipelining: 1, keepAliveTimeoutMs: 4000, maxPendingCalls: 16 })
  const openim = new OpenImClient({ transport, secret: SECRET, adminUserID: ADMIN, apiMode: 'auto', ...options })
  t.teardown(() => openim.close())
  return openim
}

async function failure (promise: Promise<unknown>): Promise<OpenImError> {
  try { await promise } catch (error) { if (error instanceof OpenImError) return error; throw error }
  throw new Error('expected an OpenImError')
}

const op = { operationID: 'op' }

t.test('a current server refusing the admin mint is not mistaken for a legacy one: no legacy probe', async (t) => {
  for (const [fault, kind] of [[{ errCode: 14 }, 'rejected'], [{ errCode: 1002 }, 'auth_failed']] as const) {
    const emulator = await startOpenIm(t)
    emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', ...fault })
    const error = await failure(client(t, emulator.url).connectedGeneration(op))
    t.equal(error.kind, kind, `errCode ${fault.errCode}`)
    if (kind === 'auth_failed') t.match(error.message, /OPENIM_SECRET and OPENIM_ADMIN_USER_ID/)
    t.equal(emulator.callCount('/auth/user_token'), 0, `errCode ${fault.errCode}: no legacy probe`)
  }
})

t.test('a proxy\'s error page is a failure of the call, not a sign that OpenIM was replaced', async (t) => {
  const emulator = await startOpenIm(t)
  const openim = client(t, emulator.url)
  await openim.accountCheck(['a'], op)
  emulator.injectFault('/user/account_check', { kind: 'html', status: 502 })
  t.equal((await failure(openim.accountCheck(['a'], op))).kind, 'bad_response')
  await openim.accountCheck(['a'], op)
  t.equal(emulator.callCount('/auth/get_admin_token'), 1, 'neither detected again nor re-minted')
})

t.test('the admin token is trusted until 30 s before its own expiry when that comes before the TTL', async (t) => {
  const emulator = await startOpenIm(t, { tokenLifetimeSeconds: 100 })
  let now = 1_000_000
  const openim = client(t, emulator.url, { now: () => now })
  await openim.accountCheck(['a'], op)
  now += 69_000
  await openim.accountCheck(['a'], op)
  t.equal(emulator.callCount('/auth/get_admin_token'), 1, 'still trusted at 69 s')
  now += 2000
  await openim.accountCheck(['a'], op)
  t.equal(emulator.callCount('/auth/get_admin_token'), 2, 're-minted at 71 s')
})

t.test('the generation is announced once, not on every admin-token mint', async (t) => {
  const emulator = await startOpenIm(t)
  let now = 1_000_000
  const detected: string[] = []
  const minted: string[] = []
  const openim = client(t, emulator.url, { now: () => now, events: { generationDetected: (g) => detected.push(g), adminTokenMinted: (g) => minted.push(g) } })
  await openim.accountCheck(['a'], op)
  now += 300_000
  await openim.accountCheck(['a'], op)
  t.same(minted, ['current', 'current'])
  t.same(detected, ['current'])
})

t.test('an explicit legacy mode sends the secret calls without a token, and never detects, even after a 404', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const openim = client(t, emulator.url, { apiMode: 'legacy' })
  await openim.registerUsers([{ userID: 'zoe', nickname: 'Z' }], op)
  await openim.mintUserToken('zoe', 5, op)
  t.same(emulator.recentCalls.map((call) => [call.path, call.token !== undefined]), [['/user/user_register', false], ['/auth/user_token', false]],
    'no admin token is minted or sent for calls that carry the secret')
  emulator.injectFault('/user/account_check', { kind: 'text', status: 404, body: '404 page not found' })
  await failure(openim.accountCheck(['zoe'], op))
  await openim.accountCheck(['zoe'], op)
  t.equal(emulator.callCount('/auth/get_admin_token'), 0, 'no detection probe')
})

t.test('token answers without a usable token, and account_check answers with holes, are bad responses that say which', async (t) => {
  const emulator = await startOpenIm(t)
  const openim = client(t, emulator.url)
  await openim.accountCheck(['a'], op)
  for (const token of ['""', '5']) {
    emulator.injectFault('/auth/get_user_token', { kind: 'text', body: `{"errCode":0,"data":{"token":${token},"expireTimeSeconds":100}}` })
    const error = await failure(openim.mintUserToken('a', 5, op))
    t.match(error, { kind: 'bad_response', path: '/auth/get_user_token', message: /without token and expireTimeSeconds/ }, `token ${token}`)
  }
  const cases = [
    ['{"results":[{"userID":"a","accountStatus":"maybe"}]}', /unexpected result shape/],
    ['{"results":null}', /left a userID out/]
  ] as const
  for (const [data, message] of cases) {
    emulator.injectFault('/user/account_check', { kind: 'text', body: `{"errCode":0,"data":${data}}` })
    t.match(await failure(openim.accountCheck(['a'], op)), { kind: 'bad_response', path: '/user/account_check', message }, data)
  }
})
