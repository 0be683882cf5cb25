import t from 'tap'
import { Redis } from 'ioredis'
import { LocalMintLock } from '../../src/provisioning/mint-lock.js'
import { TokenSealer } from '../../src/provisioning/token-store/crypto.js'
import { MemoryTokenStore } from '../../src/provisioning/token-store/memory.js'
import { RedisSessionStore, type LocalToken } from '../../src/provisioning/token-store/redis.js'
import { REMEMBER } from '../../src/provisioning/token-store/scripts.js'
import type { Look, MintLease } from '../../src/provisioning/token-store/store.js'
import { KeyNames } from '../../src/redis/key-names.js'
import { SharedRedis } from '../../src/redis/shared-redis.js'
import { SECRET, buildGateway, hold, provision, redisCommands, startOpenIm, waitFor } from '../helper.js'
import { redisSettings, skipWithoutRedis, startDelayingProxy, startRedis } from '../redis.js'

// The cross-replica mint lock against a real redis-server. Two RedisSessionStore objects on two connections stand
// for two replicas; a flow is one provision's dealings with its pair.

const quiet = { error () {}, warn () {} }
const pair = { userID: 'lena', platformID: 5 }
const keys = new KeyNames(SECRET).pair(pair)
const entry = (token: string) => ({ token, expiresAt: Date.now() + 3_600_000, lifetimeSeconds: 3600 })

interface Teardown { teardown (fn: () => unknown): void }

async function replica (t: Teardown, url: string, { leaseMs = 60_000, env = {} }: { leaseMs?: number, env?: Record<string, string> } = {}) {
  const redis = await SharedRedis.connect({ settings: redisSettings({ REDIS_URL: url, ...env }), secret: SECRET, log: quiet, probeIntervalMs: 200 })
  t.teardown(() => redis.close())
  const warnings: Array<{ details: object, message: string }> = []
  const counts = { ambiguous: 0, unshared: 0 }
  const memory = new MemoryTokenStore<LocalToken>(1000)
  const store = new RedisSessionStore({
    redis,
    sealer: new TokenSealer(SECRET),
    memory,
    local: new LocalMintLock(leaseMs),
    leaseMs,
    log: { warn: (details, message) => { warnings.push({ details, message }) } },
    events: { ambiguousAcquire: () => { counts.ambiguous++ }, unsharedMint: () => { counts.unshared++ } }
  })
  return { redis, store, memory, warnings, counts }
}

function leaseOf (look: Look): MintLease {
  if (look.kind !== 'lease') throw new Error(`expected a lease, got ${look.kind}`)
  return look.lease
}

async function admin (t: Teardown, url: string) {
  const client = new Redis(url)
  t.teardown(() => client.disconnect())
  return client
}

t.test('one holder per pair across replicas; its token is what the others find; named without the userID', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  // A lease no busy machine outlasts here: this test is not about its end.
  const [a, b] = [await replica(t, server.url), await replica(t, server.url)]
  const flowA = a.store.flow(pair)
  const acquiring = Date.now()
  const lease = leaseOf(await flowA.look(true))
  t.match(await b.store.flow(pair).look(true), { kind: 'busy' }, 'held on another replica')
  t.match(await a.store.flow(pair).look(true), { kind: 'busy' }, 'held by another flow of this replica')
  t.match(await b.store.flow({ userID: 'lena', platformID: 4 }).look(true), { kind: 'lease' }, 'another pair is free')

  const client = await admin(t, server.url)
  const lockKeys = (await client.keys('openim-gateway:*')).filter((key) => /:lock:|mint-lock/.test(key))
  t.equal(lockKeys.length, 4, 'two pairs, each under its own name and (during an upgrade) the previous release\'s')
  for (const key of lockKeys) t.notMatch(key, /lena/)
  const ttl = await client.pttl(keys.lock)
  t.ok(ttl <= 60_000 && ttl >= 60_000 - (Date.now() - acquiring), `a lease of 60 s, less the time since (${ttl} ms left)`)

  t.equal(await lease.renew(), true, 'held')
  await lease.remember(entry('token-1'))
  await flowA.end()
  t.equal(await client.exists(keys.lock), 0, 'released with the token remembered, in one step')
  t.match(await b.store.flow(pair).look(true), { kind: 'remembered', entry: { token: 'token-1' } }, 'the other replica finds the token')
})

t.test('a flow that asks again renews its own lock; a flow that ends releases it, and only its own', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const [a, b] = [await replica(t, server.url), await replica(t, server.url)]
  const flow = a.store.flow(pair)
  leaseOf(await flow.look(true))
  leaseOf(await flow.look(true))
  await flow.end()
  const other = b.store.flow(pair)
  leaseOf(await other.look(true))
  await flow.end()
  t.match(await a.store.flow(pair).look(true), { kind: 'busy' }, 'a second end of the former holder freed nothing')
})

t.test('a lease that runs out is lost: another replica takes it, and renew() tells the former holder', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const [a, b] = [await replica(t, server.url, { leaseMs: 300 }), await replica(t, server.url, { leaseMs: 300 })]
  const lease = leaseOf(await a.store.flow(pair).look(true))
  t.equal(await lease.renew(), true, 'renewed while held')
  let taken: Look | undefined
  await waitFor(async () => (taken = await b.store.flow(pair).look(true)).kind === 'lease', 'the lease to run out')
  t.equal(await lease.renew(), false, 'lost')
  t.equal(await leaseOf(taken!).renew(), true, 'the new holder still holds it')
})

t.test('a renew that fails is a lost lease: the flow does not mint on it', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const a = await replica(t, server.url, { leaseMs: 300 })
  const lease = leaseOf(await a.store.flow(pair).look(true))
  await server.stop()
  await waitFor(() => !a.redis.available, 'the breaker to open')
  t.equal(await lease.renew(), false)
})

t.test('Redis unavailable: a copy from memory first, else this process\'s lock, and at most one mint per pair per lease', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const a = await replica(t, server.url)
  // A token read before Redis went away.
  const known = { userID: 'known', platformID: 5 }
  const flow = a.store.flow(known)
  await leaseOf(await flow.look(true)).remember(entry('known-token'))
  await flow.end()
  await server.stop()
  await waitFor(() => !a.redis.available, 'the breaker to open')
  const sent = redisCommands(t, a.redis.client)

  t.match(await a.store.flow(known).look(true), { kind: 'remembered', entry: { token: 'known-token' } }, 'a user holding a token keeps it')
  const first = a.store.flow(pair)
  const lease = leaseOf(await first.look(true))
  t.match(await a.store.flow(pair).look(true), { kind: 'busy' }, 'held against this process\'s other flows')
  await lease.remember(entry('degraded-token'))
  await first.end()
  t.equal(a.counts.unshared, 1, 'counted as a mint without the cross-replica lock')
  const second = a.store.flow(pair)
  const found = await second.look(true)
  t.match(found, { kind: 'remembered', entry: { token: 'degraded-token' } }, 'the token minted meanwhile is offered')
  // OpenIM says it was kicked (another replica minted too, unaware): minting again would kick that one in turn.
  if (found.kind === 'remembered') await second.pass(found.entry, true)
  const deferred = await second.look(true).then(() => undefined, (error: unknown) => error as { name: string, retryAfterSeconds: number })
  t.equal(deferred?.name, 'MintDeferred', 'no second mint within the lease (answered 503 with Retry-After)')
  t.ok(deferred !== undefined && deferred.retryAfterSeconds >= 1 && deferred.retryAfterSeconds <= 60, 'retry once the 60 s lease has passed')
  await second.end()
  t.match(await a.store.flow(pair).look(false), { kind: 'lease' }, 'a caller asking for a fresh token on purpose still gets one')
  t.same(sent, [], 'and not one command was sent to the missing Redis')
})

t.test('an ambiguous lock request (its reply held past the command timeout): no mint until Redis says whose it is', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const a = await replica(t, proxy.url)
  const b = await replica(t, server.url)
  const held = proxy.holdReplyTo(keys.lock, 900)
  const flow = a.store.flow(pair)
  t.match(await flow.look(true), { kind: 'busy' }, 'timed out after being sent: the flow waits, it does not mint')
  t.equal(a.counts.ambiguous, 1)
  t.equal(a.redis.available, false)
  t.match(await flow.look(true), { kind: 'busy' }, 'still unknown while Redis cannot be asked')
  t.match(await b.store.flow(pair).look(true), { kind: 'busy' }, 'the lock was taken: the other replica waits too')
  await held
  await waitFor(() => a.redis.available, 'Redis to be asked again')
  const lease = leaseOf(await flow.look(true))
  t.pass('asked again under the same holder: it was this flow\'s')
  await lease.remember(entry('the-one-token'))
  await flow.end()
  t.match(await b.store.flow(pair).look(true), { kind: 'remembered', entry: { token: 'the-one-token' } })
})

t.test('an ambiguous request that did not take the lock: the flow waits for the holder\'s token, and leaves nothing behind', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const a = await replica(t, proxy.url)
  const b = await replica(t, server.url)
  const holder = b.store.flow(pair)
  const lease = leaseOf(await holder.look(true))
  const held = proxy.holdReplyTo(keys.lock, 900)
  const flow = a.store.flow(pair)
  t.match(await flow.look(true), { kind: 'busy' })
  await lease.remember(entry('b-token'))
  await holder.end()
  await held
  await waitFor(() => a.redis.available, 'Redis to be asked again')
  t.match(await flow.look(true), { kind: 'remembered', entry: { token: 'b-token' } })
  await flow.end()
  const client = await admin(t, server.url)
  t.equal(await client.exists(keys.lock), 0, 'no lock left')
})

t.test('a flow that ends while its lock request is unknown releases it once Redis answers', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const a = await replica(t, proxy.url, { leaseMs: 60_000 })
  const held = proxy.holdReplyTo(keys.lock, 900)
  const flow = a.store.flow(pair)
  t.match(await flow.look(true), { kind: 'busy' })
  await flow.end()
  await held
  const client = await admin(t, server.url)
  await waitFor(async () => await client.exists(keys.lock) === 0, 'the owed release')
  t.pass('released long before its 60 s lease')
})

t.test('a token whose remember times out (sent late): no other flow mints; it finds the token once it lands', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const a = await replica(t, proxy.url)
  const b = await replica(t, server.url)
  const flow = a.store.flow(pair)
  const lease = leaseOf(await flow.look(true))
  // The remember script reaches Redis 1.5 s late, after its 500 ms timeout: the lock stays this flow's meanwhile.
  const held = proxy.holdCommand(REMEMBER, 1500)
  await lease.remember(entry('late-token'))
  await flow.end()
  const waiting = b.store.flow(pair)
  t.match(await waiting.look(true), { kind: 'busy' }, 'the other replica waits: the lock is still held')
  await held
  await waitFor(async () => (await waiting.look(true)).kind === 'remembered', 'the token to land')
  t.match(await b.store.flow(pair).look(true), { kind: 'remembered', entry: { token: 'late-token' } })
  t.match(await a.store.flow(pair).look(true), { kind: 'remembered', entry: { token: 'late-token' } }, 'and this replica offers it too')
})

t.test('a token minted while Redis was unavailable is written to it once it is back: other replicas find it', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const [a, b] = [await replica(t, server.url), await replica(t, server.url)]
  await server.stop()
  await waitFor(() => !a.redis.available, 'the breaker to open')
  const flow = a.store.flow(pair)
  await leaseOf(await flow.look(true)).remember(entry('outage-token'))
  await flow.end()
  await server.start()
  await waitFor(() => a.redis.available, 'Redis to be back')
  await waitFor(async () => (await b.store.flow(pair).look(true)).kind === 'remembered', 'the owed write')
  t.match(await b.store.flow(pair).look(true), { kind: 'remembered', entry: { token: 'outage-token' } })
})

t.test('a lock without expiry, or of another type, is taken over, and said once', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const a = await replica(t, server.url)
  const client = await admin(t, server.url)
  await client.set(keys.lock, 'someone-by-hand')
  const first = a.store.flow(pair)
  leaseOf(await first.look(true))
  await first.end()
  await client.set(keys.lock, 'again')
  const second = a.store.flow(pair)
  leaseOf(await second.look(true))
  await second.end()
  await client.hset(keys.lock, 'field', 'value')
  const third = a.store.flow(pair)
  leaseOf(await third.look(true))
  await third.end()
  t.same(a.warnings.map((warning) => warning.details), [{ kind: 'no-expiry' }, { kind: 'wrong-type' }], 'each kind logged once')
  t.equal(await client.exists(keys.lock), 0)
})

t.test('a flow whose lock was lost before its mint does not mint: it hands out the token the next holder minted', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const emulator = await startOpenIm(t)
  const env = { REDIS_URL: server.url }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  await provision(b.app, { userID: 'warm_up', platformID: 5 })
  emulator.resetCounts()
  // Replica A's flow for a new user, held by OpenIM at its first call (before its mint) while its lock goes: the test
  // deletes it in Redis as its expiry, a failover that lost it, or an eviction would, with no delay racing anything.
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault)
  const waiting = Promise.resolve(provision(a.app, { userID: 'mona', platformID: 5 }))
  const client = await admin(t, server.url)
  const names = new KeyNames(SECRET)
  // During an upgrade the previous release's lock is held with this one's: both go, as both would expire.
  const lockKeys = [names.pair({ userID: 'mona', platformID: 5 }).lock, names.legacyPair({ userID: 'mona', platformID: 5 }).lock]
  await waitFor(() => emulator.callCount('/user/account_check') === 1, 'replica A to be checking the user')
  t.equal(await client.exists(...lockKeys), 2, 'replica A holds the lock')
  await client.del(...lockKeys)

  const minted = await provision(b.app, { userID: 'mona', platformID: 5 })
  t.equal(minted.statusCode, 201, 'replica B took the lock, registered the user and minted')
  release()
  const answerA = await waiting
  t.match(answerA.json(), { token: minted.json().token, reused: true }, `A's caller gets B's token: its renew found the lock lost (${answerA.statusCode} ${answerA.body})`)
  t.equal(emulator.callCount('/auth/get_user_token'), 1, 'A did not mint after its lock was lost')
  t.equal(emulator.callCount('/user/user_register'), 1)
})
