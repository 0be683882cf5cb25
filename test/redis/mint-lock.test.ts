import t from 'tap'
import { Redis } from 'ioredis'
import { RedisMintLock } from '../../src/provisioning/mint-lock.js'
import { TokenSealer } from '../../src/provisioning/token-store/crypto.js'
import { SharedRedis } from '../../src/redis/shared-redis.js'
import { SECRET, buildGateway, hold, provision, redisCommands, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'

// The cross-replica mint lock against a real redis-server. Two RedisMintLock objects on two connections stand for
// two replicas.

const quiet = { error () {}, warn () {} }
const pair = { userID: 'lena', platformID: 5 }

async function replica (t: { teardown (fn: () => unknown): void }, url: string, leaseMs: number) {
  const redis = await SharedRedis.connect({ url, log: quiet, probeIntervalMs: 200 })
  t.teardown(() => redis.close())
  return { redis, lock: new RedisMintLock(redis, new TokenSealer(SECRET), leaseMs) }
}

t.test('one holder per pair across replicas; released only by its holder; named without the userID', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  // A lease no busy machine outlasts here: this test is not about its end.
  const [a, b] = [await replica(t, server.url, 60_000), await replica(t, server.url, 60_000)]
  const acquiring = Date.now()
  const lease = await a.lock.tryAcquire(pair)
  t.ok(lease)
  t.equal(await lease?.renew(), true, 'renewed while held')
  t.equal(await b.lock.tryAcquire(pair), undefined, 'held on another replica')
  t.equal(await a.lock.tryAcquire(pair), undefined, 'held in this process')
  t.ok(await b.lock.tryAcquire({ userID: 'lena', platformID: 4 }), 'another pair is free')

  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  const keys = await admin.keys('openim-gateway:mint-lock:*')
  t.equal(keys.length, 2)
  for (const key of keys) t.notMatch(key, /lena/)
  const ttl = await admin.pttl(new TokenSealer(SECRET).name('openim-gateway:mint-lock:', pair))
  t.ok(ttl <= 60_000 && ttl >= 60_000 - (Date.now() - acquiring), `a lease of 60 s, less the time since (${ttl} ms left)`)

  await lease?.release()
  const next = await b.lock.tryAcquire(pair)
  t.ok(next, 'free once its holder released it')
  await lease?.release()
  t.equal(await a.lock.tryAcquire(pair), undefined, 'a second release by the former holder frees nothing')
})

t.test('a lease that runs out is lost: another replica takes the lock, and renew() tells the former holder', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const [a, b] = [await replica(t, server.url, 300), await replica(t, server.url, 300)]
  const lease = await a.lock.tryAcquire(pair)
  let taken: Awaited<ReturnType<typeof b.lock.tryAcquire>>
  await waitFor(async () => (taken = await b.lock.tryAcquire(pair)) !== undefined, 'the lease to run out')
  t.equal(await lease?.renew(), false, 'lost')
  await lease?.release()
  t.equal(await a.lock.tryAcquire(pair), undefined, 'the former holder\'s release did not free the new holder\'s lock')
  t.equal(await taken?.renew(), true)
})

t.test('Redis unavailable: the lock still holds within the process, and nothing waits on Redis', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const a = await replica(t, server.url, 5000)
  await server.stop()
  await waitFor(() => !a.redis.available, 'the breaker to open')
  const sent = redisCommands(t, a.redis.client)
  const lease = await a.lock.tryAcquire(pair)
  t.ok(lease, 'acquired in this process')
  t.equal(await a.lock.tryAcquire(pair), undefined, 'and held against this process\'s other flows')
  t.equal(await lease?.renew(), true)
  await lease?.release()
  t.ok(await a.lock.tryAcquire(pair), 'released')
  t.same(sent, [], 'at once: no command was sent to Redis')
})

t.test('a flow whose lease ran out before its mint does not mint: it hands out the token the next holder minted', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const emulator = await startOpenIm(t)
  const env = { REDIS_URL: server.url }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  await provision(b.app, { userID: 'warm_up', platformID: 5 })
  emulator.resetCounts()
  // Replica A's flow for a new user, held by OpenIM at its first call (before its mint) while its lease ends:
  // the test ends it in Redis as its expiry would, so no delay races the lease or the OpenIM timeout.
  const { fault, release } = hold()
  emulator.injectFault('/user/account_check', fault)
  const waiting = Promise.resolve(provision(a.app, { userID: 'mona', platformID: 5 }))
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  const lockKey = new TokenSealer(SECRET).name('openim-gateway:mint-lock:', { userID: 'mona', platformID: 5 })
  await waitFor(() => emulator.callCount('/user/account_check') === 1, 'replica A to be checking the user')
  t.equal(await admin.exists(lockKey), 1, 'replica A holds the lock')
  await admin.del(lockKey)

  const minted = await provision(b.app, { userID: 'mona', platformID: 5 })
  t.equal(minted.statusCode, 201, 'replica B took the lock, registered the user and minted')
  release()
  t.match((await waiting).json(), { token: minted.json().token, reused: true }, 'A\'s caller gets B\'s token')
  t.equal(emulator.callCount('/auth/get_user_token'), 1, 'A did not mint after its lease ran out')
  t.equal(emulator.callCount('/user/user_register'), 1)
})
