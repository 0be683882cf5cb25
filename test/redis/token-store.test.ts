import t from 'tap'
import { Redis } from 'ioredis'
import { KeyNames } from '../../src/redis/key-names.js'
import { SECRET, adminToken, buildGateway, hold, openImCall, post, provision, redisCommands, startOpenIm, waitFor } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'
import { skipWithoutRedis, startRedis } from '../redis.js'

// The token store in a real Redis: what an operator (or an intruder) with access to it can read, values that
// do not open, and what the gateway does when Redis goes away.

const JWT_SHAPE = /eyJ[\w-]{2,}\.eyJ[\w-]{2,}\./
const tokenKey = (userID: string, platformID: number) => new KeyNames(SECRET).pair({ userID, platformID }).token
const NEW_TOKEN_KEY = /^openim-gateway:\{[\w-]{22}\}:token:[\w-]{22}$/

async function admin (t: { teardown (fn: () => unknown): void }, url: string) {
  const client = new Redis(url)
  t.teardown(() => client.disconnect())
  return client
}

async function allKeys (client: Redis): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 100)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

t.test('no token and no userID can be read in Redis: HMAC key names, AES-256-GCM values, each expiring with its token', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t, { tokenLifetimeSeconds: 86_400 })
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url })
  const tokens: string[] = []
  for (const [userID, platformID] of [['quinn_private', 5], ['quinn_private', 1], ['rae_private', 5]] as const) {
    tokens.push((await provision(app, { userID, platformID })).json().token)
  }
  const client = await admin(t, redis.url)
  const keys = await allKeys(client)
  const tokenKeys = keys.filter((key) => NEW_TOKEN_KEY.test(key))
  t.equal(tokenKeys.length, 3)
  // During an upgrade's first day the previous release's names are written too (test/redis/rollout.test.ts).
  t.equal(keys.filter((key) => key.startsWith('openim-gateway:token:')).length, 3)
  t.same(keys.filter((key) => /:lock:|mint-lock/.test(key)), [], 'no lock outlives its flow')
  for (const key of keys) {
    t.ok(key.startsWith('openim-gateway:'), key)
    t.notMatch(key, /quinn|rae/, 'no userID in a key name')
    const value = await client.get(key) ?? ''
    // As stored, and decoded as if it were base64 (an encoding is no encryption).
    for (const text of [value, Buffer.from(value, 'base64url').toString('latin1')]) {
      t.notMatch(text, /quinn|rae/, 'no userID in a value')
      t.notMatch(text, JWT_SHAPE, 'no JWT in a value')
      for (const token of tokens) t.notOk(text.includes(token.split('.')[2]!), 'not even a token\'s signature')
    }
  }
  for (const key of tokenKeys) {
    const ttl = await client.pttl(key)
    t.ok(ttl > 86_400_000 - 60_000 && ttl <= 86_400_000, `expires with the token (${ttl} ms)`)
  }
  t.ok(tokenKeys.includes(tokenKey('quinn_private', 5)))
})

t.test('no caller name, userID or client address in any key or value: services, end users and anonymous callers', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const service = await buildGateway(t, emulator.url, { REDIS_URL: redis.url, GATEWAY_API_KEYS: 'billing_service:billing-service-key-0123456789' })
  const endUsers = await buildGateway(t, emulator.url, { REDIS_URL: redis.url, GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const anonymous = await buildGateway(t, emulator.url, { REDIS_URL: redis.url, GATEWAY_API_KEYS: '', AUTH_DISABLED: 'true' })
  t.equal((await provision(service.app, { userID: 'sigrid_private', platformID: 5 }, { 'x-api-key': 'billing-service-key-0123456789' })).statusCode, 201)
  const jwt = await signHs256({ sub: 'tove_private', aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })
  t.equal((await provision(endUsers.app, { userID: 'tove_private', platformID: 5 }, bearer(jwt))).statusCode, 201)
  const fromAddress = await anonymous.app.inject({ method: 'POST', url: '/provision', payload: { userID: 'ulla_private', platformID: 5 }, remoteAddress: '203.0.113.77' })
  t.equal(fromAddress.statusCode, 201)
  const client = await admin(t, redis.url)
  const keys = await allKeys(client)
  t.ok(keys.filter((key) => /:rate:/.test(key)).length >= 3, 'a counter for each caller')
  for (const key of keys) {
    const type = await client.type(key)
    const value = type === 'string' ? await client.get(key) ?? '' : JSON.stringify(await client.call('DUMP', key))
    for (const text of [key, value, Buffer.from(value, 'base64url').toString('latin1')]) {
      t.notMatch(text, /sigrid|tove|ulla|billing_service|203\.0\.113\.77/, `${key}: nothing user-identifying`)
    }
  }
})

t.test('a revoke while Redis is down still logs out at OpenIM, forgets this replica\'s copy, and answers 200', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  // v3.7 with TOKEN_REUSE=true: force_logout leaves the token valid there, so only forgetting the copy stops a reuse.
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url, TOKEN_REUSE: 'true' })
  const first = (await provision(app, { userID: 'vik', platformID: 5 })).json()
  await redis.stop()
  await waitFor(() => app.redis?.available === false, 'the gateway to notice')
  t.match((await provision(app, { userID: 'vik', platformID: 5 })).json(), { reused: true, token: first.token }, 'the copy serves meanwhile')
  emulator.resetCounts()
  t.equal((await post(app, '/revoke', { userID: 'vik' })).statusCode, 200)
  t.equal(emulator.callCount('/auth/force_logout'), 9, 'logged out at OpenIM on every platform')
  emulator.advanceClock(1)
  const after = (await provision(app, { userID: 'vik', platformID: 5 })).json()
  t.match(after, { reused: false }, 'the copy was forgotten: a new token')
  t.not(after.token, first.token)
})

t.test('a revoke Redis could not be told of is done once it serves again: no replica hands the revoked token out after', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const client = await admin(t, redis.url)
  await client.call('ACL', 'SETUSER', 'gateway', 'on', '>gateway-pw-123', '~*', '+@all')
  // v3.7 with TOKEN_REUSE=true: force_logout leaves the token valid there, so only forgetting it stops a reuse.
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const settings = { REDIS_URL: redis.url.replace('redis://', 'redis://gateway:gateway-pw-123@'), TOKEN_REUSE: 'true' }
  const [a, b] = [await buildGateway(t, emulator.url, settings), await buildGateway(t, emulator.url, settings)]
  const first = (await provision(a.app, { userID: 'xena', platformID: 5 })).json()
  // Redis refuses this replica's scripts for a while (an ACL changed by mistake): its breaker opens, and the revoke's
  // DEL is not sent.
  await client.call('ACL', 'SETUSER', 'gateway', '-eval')
  await provision(a.app, { userID: 'yann', platformID: 5 })
  await waitFor(() => a.app.redis?.available === false, 'the replica to stop using Redis')
  t.equal((await post(a.app, '/revoke', { userID: 'xena' })).statusCode, 200)
  await client.call('ACL', 'SETUSER', 'gateway', '+eval')
  await waitFor(() => a.app.redis?.available === true, 'Redis to serve the replica again')
  await waitFor(async () => await client.exists(tokenKey('xena', 5)) === 0, 'the owed revoke')
  emulator.advanceClock(1)
  const after = (await provision(b.app, { userID: 'xena', platformID: 5 })).json()
  t.match(after, { reused: false }, 'the other replica mints: it found no revoked token')
  t.not(after.token, first.token)
})

t.test('Redis down: a replica mints once per user and lease; a second mint would log the other replica\'s token out: 503', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url })
  await redis.stop()
  await waitFor(() => app.redis?.available === false, 'the gateway to notice')
  const first = await provision(app, { userID: 'wade', platformID: 5 })
  t.equal(first.statusCode, 201, 'minted once, under this replica\'s own lock')
  // Another replica, unaware, mints for the same user meanwhile: this replica's token is kicked.
  emulator.advanceClock(1)
  await openImCall(emulator.url, '/auth/get_user_token', { userID: 'wade', platformID: 5 }, { token: await adminToken(emulator) })
  const second = await provision(app, { userID: 'wade', platformID: 5 })
  t.equal(second.statusCode, 503)
  t.match(second.json(), { code: 'OVERLOADED', message: /already minted a token for this user and platform/ })
  t.match(second.headers['retry-after'], /^\d+$/)
  t.equal(emulator.callCount('/auth/get_user_token'), 2, 'the first mint and the other replica\'s: no third')
  t.match((await app.inject({ url: '/metrics' })).body, /openim_gateway_mints_degraded_total 1/)
})

t.test('/revoke on one replica forgets the token for every replica sharing the Redis', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  // v3.7 with TOKEN_REUSE=true: force_logout leaves the token valid there, so only forgetting it stops a reuse.
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const settings = { REDIS_URL: redis.url, TOKEN_REUSE: 'true' }
  const [a, b] = [await buildGateway(t, emulator.url, settings), await buildGateway(t, emulator.url, settings)]
  const first = (await provision(a.app, { userID: 'uma', platformID: 5 })).json()
  t.match((await provision(b.app, { userID: 'uma', platformID: 5 })).json(), { reused: true, token: first.token }, 'shared through Redis')
  t.equal((await post(a.app, '/revoke', { userID: 'uma' })).statusCode, 200)
  emulator.advanceClock(1)
  const after = (await provision(b.app, { userID: 'uma', platformID: 5 })).json()
  t.match(after, { reused: false }, 'the other replica mints')
  t.not(after.token, first.token)
  t.match((await provision(a.app, { userID: 'uma', platformID: 5 })).json(), { reused: true, token: after.token }, 'and the first replica reuses that one')
})

t.test('a value that does not open is a miss: altered, or moved to another user\'s key', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url })
  const client = await admin(t, redis.url)
  const alice = (await provision(app, { userID: 'sal', platformID: 5 })).json()
  await provision(app, { userID: 'tim', platformID: 5 })

  const sealed = Buffer.from((await client.get(tokenKey('sal', 5)))!, 'base64url')
  sealed.writeUInt8(sealed.readUInt8(sealed.length - 20) ^ 1, sealed.length - 20)
  await client.set(tokenKey('sal', 5), sealed.toString('base64url'), 'PX', 60_000)
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'sal', platformID: 5 })).json(), { reused: false }, 'altered: minted anew')
  t.equal(emulator.callCount('/auth/parse_token'), 0, 'nothing to ask OpenIM about')

  await client.set(tokenKey('tim', 5), (await client.get(tokenKey('sal', 5)))!, 'PX', 60_000)
  emulator.resetCounts()
  const tim = (await provision(app, { userID: 'tim', platformID: 5 })).json()
  t.match(tim, { reused: false }, 'another pair\'s value does not open under this pair')
  t.not(tim.token, alice.token)
  t.equal(emulator.callCount('/auth/parse_token'), 0)
})

t.test('Redis stopped: provisions succeed at once from memory; what was remembered meanwhile returns to Redis with it', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url })
  await provision(app, { userID: 'uli', platformID: 5 })
  await redis.stop()
  await waitFor(() => app.redis?.available === false, 'the gateway to notice')

  const sent = redisCommands(t, app.redis!.client)
  const fresh = await provision(app, { userID: 'vera', platformID: 5 })
  const again = await provision(app, { userID: 'vera', platformID: 5 })
  t.equal(fresh.statusCode, 201)
  t.match(again.json(), { reused: true, token: fresh.json().token }, 'remembered in memory meanwhile')
  t.same(sent, [], 'at once: no command was sent to the missing Redis')
  t.equal(logs.records.filter((line) => /Redis degraded/.test(String(line.msg))).length, 1, 'logged once')
  t.match((await app.inject({ url: '/metrics' })).body, /openim_gateway_redis_degraded 1/)

  await redis.start()
  await waitFor(() => app.redis?.available === true, 'Redis to be back')
  emulator.resetCounts()
  t.match((await provision(app, { userID: 'vera', platformID: 5 })).json(), { reused: true, token: fresh.json().token })
  t.same(emulator.recentCalls.map((call) => call.path), ['/auth/parse_token'])
  const client = await admin(t, redis.url)
  t.ok(await client.get(tokenKey('vera', 5)), 'and is shared through Redis again')
})

t.test('Redis paused: provisions still succeed, and no request waits on it', async (t) => {
  if (skipWithoutRedis(t)) return
  const redis = await startRedis(t)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: redis.url, RATE_LIMIT_MAX: '1000' })
  await provision(app, { userID: 'wyn', platformID: 5 })
  const client = await admin(t, redis.url)
  // Paused for longer than any busy machine takes over these provisions: the breaker cannot find it back meanwhile.
  await client.call('CLIENT', 'PAUSE', '300000', 'ALL')

  const sent = redisCommands(t, app.redis!.client)
  const answers = []
  for (let i = 0; i < 10; i++) answers.push(await provision(app, { userID: `paused_${i}`, platformID: 5 }))
  answers.push(await provision(app, { userID: 'paused_0', platformID: 5 }))
  t.same(answers.map((answer) => answer.statusCode), [...Array(10).fill(201), 200])
  t.match(answers.at(-1)?.json(), { reused: true }, 'reuse works from memory meanwhile')
  // A first provision uses Redis three times (the rate limiter, the look, the remember): only the first command is
  // sent and waits out its timeout; the breaker then answers the rest at once, without sending them.
  t.equal(sent.length, 1, `one command sent to the paused Redis (${sent.join(', ')})`)
  t.equal(app.redis?.available, false)
})

for (const store of ['memory', 'Redis'] as const) {
  t.test(`${store}: a refused token is forgotten only while it is still the one remembered; a newer one stays and is handed out`, async (t) => {
    if (store === 'Redis' && skipWithoutRedis(t)) return
    const env: Record<string, string> = store === 'Redis' ? { REDIS_URL: (await startRedis(t)).url } : {}
    const emulator = await startOpenIm(t)
    const { app } = await buildGateway(t, emulator.url, env)
    const first = (await provision(app, { userID: 'xena', platformID: 5 })).json()
    emulator.advanceClock(1)
    await openImCall(emulator.url, '/auth/get_user_token', { userID: 'xena', platformID: 5 }, { token: await adminToken(emulator) })
    // While OpenIM holds its answer about the kicked token, a fresh token is minted and remembered.
    const { fault, release } = hold()
    emulator.injectFault('/auth/parse_token', fault)
    const reusing = Promise.resolve(provision(app, { userID: 'xena', platformID: 5 }))
    await waitFor(() => emulator.callCount('/auth/parse_token') === 1, 'the remembered token to be under question')
    emulator.advanceClock(1)
    const fresh = (await provision(app, { userID: 'xena', platformID: 5, reuse: false })).json()
    t.not(fresh.token, first.token)
    release()
    const answer = (await reusing).json()
    t.match(answer, { reused: true, token: fresh.token }, 'the 1506 for the old token did not forget the new one')
    t.equal(emulator.callCount('/auth/get_user_token'), 3, 'the first, the one straight from OpenIM, the fresh one: no fourth')
    t.match((await openImCall(emulator.url, '/auth/parse_token', { token: fresh.token })).json, { errCode: 0 })
  })
}
