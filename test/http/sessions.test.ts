import type { FastifyInstance } from 'fastify'
import { mock } from 'node:test'
import t from 'tap'
import type { OpenImEmulator } from '../../src/emulator/emulator.js'
import { HUNG_CALL_TIMEOUT_MS, adminToken, buildGateway, hold, openImCall, post, provision, startOpenIm, waitFor } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

// Session-preserving tokens: a provision hands out the live token it handed out before (confirmed by OpenIM's
// parse_token) instead of minting, which on OpenIM v3.8.1+ would log the user's other session out.

const parse = async (emulator: OpenImEmulator, token: string) => (await openImCall(emulator.url, '/auth/parse_token', { token })).json
const paths = (emulator: OpenImEmulator) => emulator.recentCalls.map((call) => call.path)
// The registry itself, not /metrics: a scrape within a second of the last one shares its render.
const metric = async (app: FastifyInstance, name: string) =>
  Number(new RegExp(`^openim_gateway_${name} (\\d+)$`, 'm').exec(await app.metrics.registry.metrics())?.[1] ?? 0)
/** The `exp` claim of an OpenIM token (a JWT), in Unix seconds. */
const expClaim = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number

t.test('provisioning again returns the same live token for one OpenIM call (parse_token), and the first holder stays logged in', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const first = await provision(app, { userID: 'alice', platformID: 5 })
  t.equal(first.statusCode, 201)
  t.match(first.json(), { created: true, reused: false })
  emulator.resetCounts()
  const again = await provision(app, { userID: 'alice', platformID: 5 })
  t.equal(again.statusCode, 200)
  t.match(again.json(), { userID: 'alice', platformID: 5, token: first.json().token, created: false, reused: true })
  t.same(paths(emulator), ['/auth/parse_token'], 'exactly one OpenIM call, no account_check, no mint')
  t.match(await parse(emulator, first.json().token), { errCode: 0 }, 'the first token was not kicked')
  t.equal(await metric(app, 'provisions_total{outcome="reused",code=""}'), 1)
  t.equal(await metric(app, 'token_store_lookups_total{result="hit"}'), 1)
  t.equal(await metric(app, 'token_store_lookups_total{result="miss"}'), 1)
})

t.test('expiry: a new token answers its lifetime; a reused one OpenIM\'s own expiry and the seconds left until it', async (t) => {
  const emulator = await startOpenIm(t, { tokenLifetimeSeconds: 7200 })
  const { app } = await buildGateway(t, emulator.url)
  // OpenIM's clock 10 minutes behind ours: the token it mints expires 10 minutes before the gateway reckoned.
  emulator.advanceClock(-600)
  const before = Date.now()
  const fresh = (await provision(app, { userID: 'erin', platformID: 5 })).json()
  t.equal(fresh.expireTimeSeconds, 7200, 'a new token: its whole lifetime')
  t.ok(Date.parse(fresh.expiresAt) >= before + 7200_000 && Date.parse(fresh.expiresAt) <= Date.now() + 7200_000)
  emulator.advanceClock(600)

  const reused = (await provision(app, { userID: 'erin', platformID: 5 })).json()
  t.equal(reused.reused, true)
  const exp = expClaim(fresh.token)
  t.equal(reused.expiresAt, new Date(exp * 1000).toISOString(), 'the expiry OpenIM holds for the token')
  t.ok(reused.expireTimeSeconds <= exp - Math.floor(before / 1000) && reused.expireTimeSeconds >= exp - Math.ceil(Date.now() / 1000),
    `seconds left until then (${reused.expireTimeSeconds})`)
  t.ok(reused.expireTimeSeconds < 7200 - 590)
})

t.test('a token kicked outside the gateway (minted straight from OpenIM) is forgotten and replaced', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const first = (await provision(app, { userID: 'bob', platformID: 2 })).json()
  emulator.advanceClock(1) // a mint in the same second would be the very same token
  await openImCall(emulator.url, '/auth/get_user_token', { userID: 'bob', platformID: 2 }, { token: await adminToken(emulator) })
  t.match(await parse(emulator, first.token), { errCode: 1506 })
  emulator.resetCounts()

  const replaced = await provision(app, { userID: 'bob', platformID: 2 })
  t.equal(replaced.statusCode, 200)
  t.match(replaced.json(), { reused: false, created: false })
  t.same(paths(emulator), ['/auth/parse_token', '/user/account_check', '/auth/get_user_token'])
  t.match(await parse(emulator, replaced.json().token), { errCode: 0 })
  t.equal(await metric(app, 'token_store_lookups_total{result="stale"}'), 1)
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'bob', platformID: 2 })).json(), { reused: true, token: replaced.json().token }, 'the replacement is remembered')
  t.same(paths(emulator), ['/auth/parse_token'])

  // Refused and then not replaced (the mint failed): forgotten all the same, so it is not asked about again.
  emulator.advanceClock(1)
  await openImCall(emulator.url, '/auth/get_user_token', { userID: 'bob', platformID: 2 }, { token: await adminToken(emulator) })
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 500 })
  t.equal((await provision(app, { userID: 'bob', platformID: 2 })).statusCode, 502)
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'bob', platformID: 2 })).json(), { reused: false })
  t.same(paths(emulator), ['/user/account_check', '/auth/get_user_token'])
})

t.test('"reuse": false mints a new token, logging out the one handed out before; the new one is remembered', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const first = (await provision(app, { userID: 'cleo', platformID: 5 })).json()
  emulator.advanceClock(1)
  emulator.resetCounts()
  const fresh = await provision(app, { userID: 'cleo', platformID: 5, reuse: false })
  t.equal(fresh.statusCode, 200)
  t.match(fresh.json(), { reused: false, created: false })
  t.not(fresh.json().token, first.token)
  t.notOk(paths(emulator).includes('/auth/parse_token'), 'the remembered token is not even looked at')
  t.match(await parse(emulator, first.token), { errCode: 1506 }, 'the other session on this platform is logged out')
  t.match((await provision(app, { userID: 'cleo', platformID: 5 })).json(), { reused: true, token: fresh.json().token })
})

t.test('"reuse": false never joins a provision already running for the pair: it mints after it, its own token', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  // Both mints held by OpenIM until the test lets them answer, the second in a later second of OpenIM's clock
  // (so it is another string).
  const first = hold()
  const second = hold()
  emulator.injectFault('/auth/get_user_token', first.fault)
  emulator.injectFault('/auth/get_user_token', second.fault)
  // inject() starts when awaited: Promise.resolve sets it going now.
  const running = Promise.resolve(provision(app, { userID: 'dora', platformID: 5 }))
  await waitFor(() => emulator.callCount('/auth/get_user_token') === 1, 'the first mint to be sent')
  const fresh = Promise.resolve(provision(app, { userID: 'dora', platformID: 5, reuse: false }))
  await waitFor(async () => (await metric(app, 'mint_lock_waits_total')) === 1, 'the second provision to wait for the running mint')
  first.release()
  const a = await running
  emulator.advanceClock(1)
  second.release()
  const b = await fresh
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 200)
  t.not(a.json().token, b.json().token)
  t.equal(emulator.callCount('/auth/get_user_token'), 2)
  t.equal(emulator.callCount('/user/user_register'), 1)
  t.equal(await metric(app, 'provisions_shared_total'), 0)
  t.equal(await metric(app, 'mint_lock_waits_total'), 1, 'it waited for the running mint instead of minting beside it')
})

t.test('end users may ask for a fresh token too; "reuse" is no profile field', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const headers = bearer(await signHs256({ sub: 'eve' }))
  const first = (await provision(app, { platformID: 5 }, headers)).json()
  t.match((await provision(app, { platformID: 5 }, headers)).json(), { reused: true, token: first.token })
  emulator.advanceClock(1)
  const fresh = (await provision(app, { platformID: 5, reuse: false }, headers)).json()
  t.match(fresh, { reused: false })
  t.not(fresh.token, first.token)
  t.notMatch(logs.text, /are ignored/, 'not dropped as a profile field')
})

t.test('TOKEN_REUSE=false: every provision mints, as before', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { TOKEN_REUSE: 'false' })
  await provision(app, { userID: 'fay', platformID: 5 })
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'fay', platformID: 5 })).json(), { reused: false })
  t.same(paths(emulator), ['/user/account_check', '/auth/get_user_token'])
})

t.test('OpenIM up to v3.8.0: TOKEN_REUSE=auto mints every time; TOKEN_REUSE=true reuses there too', async (t) => {
  for (const mode of ['legacy', 'v3.8.0'] as const) {
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    await provision(app, { userID: 'gus', platformID: 5 })
    emulator.resetCounts()
    t.match((await provision(app, { userID: 'gus', platformID: 5 })).json(), { reused: false }, mode)
    t.same(paths(emulator), ['/user/account_check', '/auth/user_token'], `${mode}: no parse_token`)

    const forced = await buildGateway(t, emulator.url, { TOKEN_REUSE: 'true' })
    const first = (await provision(forced.app, { userID: 'gus', platformID: 3 })).json()
    emulator.resetCounts()
    t.match((await provision(forced.app, { userID: 'gus', platformID: 3 })).json(), { reused: true, token: first.token }, `${mode}, TOKEN_REUSE=true`)
    t.same(paths(emulator), ['/auth/parse_token'])
  }
})

t.test('/revoke forgets the remembered tokens of the platforms it logs out', async (t) => {
  // v3.7 with TOKEN_REUSE=true: force_logout leaves tokens valid there, so only forgetting stops a reuse.
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url, { TOKEN_REUSE: 'true' })
  const web = (await provision(app, { userID: 'hal', platformID: 5 })).json()
  const ios = (await provision(app, { userID: 'hal', platformID: 1 })).json()
  t.equal((await post(app, '/revoke', { userID: 'hal', platformID: 5 })).statusCode, 200)
  emulator.advanceClock(1)
  const afterOne = (await provision(app, { userID: 'hal', platformID: 5 })).json()
  t.match(afterOne, { reused: false })
  t.not(afterOne.token, web.token)
  t.match((await provision(app, { userID: 'hal', platformID: 1 })).json(), { reused: true, token: ios.token }, 'the other platform is untouched')

  t.equal((await post(app, '/revoke', { userID: 'hal' })).statusCode, 200, 'every platform')
  emulator.resetCounts()
  for (const platformID of [1, 5]) t.match((await provision(app, { userID: 'hal', platformID })).json(), { reused: false })
  t.notOk(paths(emulator).includes('/auth/parse_token'), 'nothing was left to look up')

  // Current OpenIM: the token is kicked as well, and the next provision mints without asking about it.
  const current = await startOpenIm(t)
  const gateway = await buildGateway(t, current.url)
  const before = (await provision(gateway.app, { userID: 'ida', platformID: 5 })).json()
  await post(gateway.app, '/revoke', { userID: 'ida', platformID: 5 })
  t.match(await parse(current, before.token), { errCode: 1506 })
  current.resetCounts()
  t.match((await provision(gateway.app, { userID: 'ida', platformID: 5 })).json(), { reused: false })
  t.same(paths(current), ['/user/account_check', '/auth/get_user_token'])
})

t.test('a remembered token with too little time left is not handed out: TOKEN_REUSE_MIN_REMAINING_SECONDS, by default half its lifetime', async (t) => {
  const emulator = await startOpenIm(t, { tokenLifetimeSeconds: 3600 })
  const { app } = await buildGateway(t, emulator.url, { TOKEN_REUSE_MIN_REMAINING_SECONDS: '3601' })
  await provision(app, { userID: 'ivy', platformID: 5 })
  emulator.advanceClock(1)
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'ivy', platformID: 5 })).json(), { reused: false })
  t.same(paths(emulator), ['/user/account_check', '/auth/get_user_token'])

  const hourLong = await startOpenIm(t, { tokenLifetimeSeconds: 3600 })
  const gateway = await buildGateway(t, hourLong.url)
  // The clock (the gateway's and OpenIM's, both in this process) moves when the test moves it, not while a
  // loaded machine runs the requests; timers stay real.
  mock.timers.enable({ apis: ['Date'], now: Date.now() })
  t.teardown(() => mock.timers.reset())
  const first = (await provision(gateway.app, { userID: 'jay', platformID: 5 })).json()
  mock.timers.tick(1799_000)
  t.match((await provision(gateway.app, { userID: 'jay', platformID: 5 })).json(), { reused: true, token: first.token }, '1801 s of 3600 left: over half')
  mock.timers.tick(2_000)
  const late = (await provision(gateway.app, { userID: 'jay', platformID: 5 })).json()
  t.match(late, { reused: false, expireTimeSeconds: 3600 }, '1799 s left, under half of its lifetime: a new one')
  t.not(late.token, first.token)
})

t.test('the memory store holds at most TOKEN_CACHE_MAX_ENTRIES tokens, pushing out the least recently used', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { TOKEN_CACHE_MAX_ENTRIES: '2' })
  for (const userID of ['ken', 'lou', 'max']) await provision(app, { userID, platformID: 5 })
  t.equal(await metric(app, 'token_store_evictions_total'), 1)
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'max', platformID: 5 })).json(), { reused: true })
  t.match((await provision(app, { userID: 'lou', platformID: 5 })).json(), { reused: true })
  t.match((await provision(app, { userID: 'ken', platformID: 5 })).json(), { reused: false }, 'the oldest was forgotten')
  t.equal(emulator.callCount('/auth/get_user_token'), 1)
  t.equal(await metric(app, 'token_store_evictions_total'), 2, 'remembering it again pushed out the next oldest')
})

t.test('OpenIM unreachable while confirming a remembered token: the error, never an unconfirmed token', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { OPENIM_TIMEOUT_MS: HUNG_CALL_TIMEOUT_MS })
  await provision(app, { userID: 'ned', platformID: 5 })
  for (const [fault, status, code] of [[{ kind: 'drop' }, 503, 'OPENIM_UNAVAILABLE'], [{ kind: 'hang' }, 504, 'OPENIM_TIMEOUT'], [{ kind: 'errCode', errCode: 500 }, 502, 'OPENIM_REJECTED']] as const) {
    emulator.injectFault('/auth/parse_token', fault)
    const answer = await provision(app, { userID: 'ned', platformID: 5 })
    t.equal(answer.statusCode, status, fault.kind)
    t.equal(answer.json().code, code)
  }
  t.match((await provision(app, { userID: 'ned', platformID: 5 })).json(), { reused: true }, 'still remembered: those were no verdicts on the token')
})
