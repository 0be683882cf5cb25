import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { TokenSealer } from '../../src/provisioning/token-store/crypto.js'
import { KeyNames, type TokenPair } from '../../src/redis/key-names.js'
import { SECRET, adminToken, buildGateway, openImCall, provision, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'
import type { OpenImEmulator } from '../../src/emulator/emulator.js'

// A rolling upgrade: replicas of the previous release and of this one on the same Redis. The previous release is
// driven here by its own protocol, command for command as its src/provisioning/{token-issuer,mint-lock}.ts and
// token-store/redis.ts ran it (main at e3d2e89): GET its token name; else SET NX PX its lock name; GET again; mint;
// SET the token; release by holder. (`npm run bench:reliability` with BENCH_OLD_GATEWAY runs a real build of it.)

const names = new KeyNames(SECRET)
const sealer = new TokenSealer(SECRET)
const RELEASE_IF_HOLDER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
const mints = (emulator: OpenImEmulator) => emulator.callCount('/auth/get_user_token')

/** One provision as a replica of the previous release makes it (reuse on, no Redis trouble). */
async function previousRelease (redis: Redis, emulator: OpenImEmulator, pair: TokenPair): Promise<string> {
  const { token: tokenKey, lock: lockKey } = names.legacyPair(pair)
  const admin = await adminToken(emulator)
  const recall = async () => {
    const sealed = await redis.get(tokenKey)
    const plaintext = sealed === null ? undefined : sealer.open(pair, sealed)
    if (plaintext === undefined) return undefined
    const { token } = JSON.parse(plaintext) as { token: string }
    const parsed = await openImCall(emulator.url, '/auth/parse_token', { token }, { token: admin })
    return parsed.json?.errCode === 0 ? token : undefined
  }
  for (;;) {
    const remembered = await recall()
    if (remembered !== undefined) return remembered
    const holder = randomUUID()
    if (await redis.set(lockKey, holder, 'PX', 15_000, 'NX') === 'OK') {
      try {
        const again = await recall()
        if (again !== undefined) return again
        const minted = (await openImCall(emulator.url, '/auth/get_user_token', pair, { token: admin })).json?.data
        await redis.set(tokenKey, sealer.seal(pair, JSON.stringify({ token: minted.token, expiresAt: Date.now() + minted.expireTimeSeconds * 1000, lifetimeSeconds: minted.expireTimeSeconds })), 'PX', minted.expireTimeSeconds * 1000)
        return minted.token
      } finally {
        await redis.eval(RELEASE_IF_HOLDER, 1, lockKey, holder)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

async function setUp (t: Parameters<typeof startRedis>[0], marker?: number) {
  const server = await startRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  if (marker !== undefined) await redis.set('openim-gateway:key-layout-v2-since', String(marker))
  const emulator = await startOpenIm(t)
  // Not a test of slow commands: a command timeout no busy machine reaches keeps the breaker shut (a breaker opened
  // by a slow command lets this replica mint once under its own lock: docs/operators/replicas.md).
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '10000' })
  // The replica reads when the upgrade began (the marker) right after it connects.
  await waitFor(async () => await redis.exists('openim-gateway:key-layout-v2-since') === 1, 'the key layout marker')
  return { redis, emulator, app }
}

t.test('a token the previous release minted is reused by this one, and the other way round: nobody is minted for', async (t) => {
  if (skipWithoutRedis(t)) return
  const { redis, emulator, app } = await setUp(t)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'old_user', nickname: 'old_user' }, { userID: 'new_user', nickname: 'new_user' }] }, { token: await adminToken(emulator) })
  const old = await previousRelease(redis, emulator, { userID: 'old_user', platformID: 5 })
  t.match((await provision(app, { userID: 'old_user', platformID: 5 })).json(), { reused: true, token: old }, 'read under the previous release\'s name')

  const minted = (await provision(app, { userID: 'new_user', platformID: 5 })).json()
  t.equal(await previousRelease(redis, emulator, { userID: 'new_user', platformID: 5 }), minted.token, 'written under both names during the upgrade')
  t.equal(mints(emulator), 2, 'one mint per user')
})

t.test('old and new replicas provisioning the same new pair at once never both mint', async (t) => {
  if (skipWithoutRedis(t)) return
  const { redis, emulator, app } = await setUp(t)
  const admin = await adminToken(emulator)
  for (let round = 0; round < 5; round++) {
    const userID = `race_${round}`
    await openImCall(emulator.url, '/user/user_register', { users: [{ userID, nickname: userID }] }, { token: admin })
    emulator.resetCounts()
    const pair = { userID, platformID: 5 }
    const tokens = await Promise.all(Array.from({ length: 10 }, async (_, i) => i % 2 === 0
      ? await previousRelease(redis, emulator, pair)
      : (await provision(app, pair)).json().token as string))
    t.equal(mints(emulator), 1, `${userID}: one mint`)
    t.equal(new Set(tokens).size, 1, `${userID}: one token for all`)
  }
})

t.test('once the upgrade window has passed, only this release\'s names are written, and the previous name is dropped', async (t) => {
  if (skipWithoutRedis(t)) return
  const { redis, emulator, app } = await setUp(t, Date.now() - 25 * 3600_000)
  await openImCall(emulator.url, '/user/user_register', { users: [{ userID: 'late_user', nickname: 'late_user' }] }, { token: await adminToken(emulator) })
  const pair = { userID: 'late_user', platformID: 5 }
  const old = await previousRelease(redis, emulator, pair)
  t.match((await provision(app, pair)).json(), { reused: true, token: old }, 'still read under the previous name')
  emulator.advanceClock(1)
  const fresh = (await provision(app, { ...pair, reuse: false })).json()
  t.equal(await redis.exists(names.legacyPair(pair).token), 0, 'the previous name, holding an older token, is gone')
  t.equal(await redis.exists(names.pair(pair).token), 1)
  t.same((await redis.keys('openim-gateway:*')).filter((key) => /mint-lock|:lock:/.test(key)), [])
  t.match((await provision(app, pair)).json(), { reused: true, token: fresh.token })
})
