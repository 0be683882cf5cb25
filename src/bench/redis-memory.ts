import { randomBytes } from 'node:crypto'
import { loadConfig } from '../config/index.js'
import { LocalMintLock } from '../provisioning/mint-lock.js'
import { TokenSealer } from '../provisioning/token-store/crypto.js'
import { MemoryTokenStore } from '../provisioning/token-store/memory.js'
import { RedisSessionStore, type LocalToken } from '../provisioning/token-store/redis.js'
import { SharedRedis } from '../redis/shared-redis.js'
import { secret } from './processes.js'
import { startStandalone } from './redis-servers.js'

// What one remembered token costs Redis: N pairs remembered through the token store itself (look, then remember:
// the script a first provision runs), tokens shaped like OpenIM's (HS256 JWTs, userIDs of 12 characters), the
// difference in INFO used_memory divided by N. Measured after the upgrade window (this release's names only) and
// within it (the previous release's names written too).

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const header = base64url({ alg: 'HS256', typ: 'JWT' })

function openImToken (userID: string, now: number): string {
  const claims = base64url({ UserID: userID, PlatformID: 5, exp: now + 7_776_000, iat: now - 5 })
  return `${header}.${claims}.${randomBytes(32).toString('base64url')}`
}

async function usedMemory (admin: { info (section: string): Promise<string> }): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1])
}

async function measure (count: number, upgradeWindow: boolean): Promise<{ perToken: number, keyBytes: number, tokenChars: number }> {
  const server = await startStandalone()
  const admin = server.node.admin()
  // The marker of the upgrade's start: now (within the window), or two days ago (after it).
  await admin.set('openim-gateway:key-layout-v2-since', String(Date.now() - (upgradeWindow ? 0 : 2 * 86_400_000)))
  const config = loadConfig({ OPENIM_API_URL: 'http://127.0.0.1:1', OPENIM_SECRET: secret, AUTH_DISABLED: 'true', REDIS_URL: server.url })
  const quiet = { error () {}, warn () {} }
  const redis = await SharedRedis.connect({ settings: config.redis!, secret, log: quiet })
  const store = new RedisSessionStore({
    redis,
    sealer: new TokenSealer(secret),
    memory: new MemoryTokenStore<LocalToken>(1),
    local: new LocalMintLock(15_000),
    leaseMs: 15_000,
    log: quiet
  })
  await new Promise((resolve) => setTimeout(resolve, 200)) // the store reads the marker
  const before = await usedMemory(admin)
  const now = Math.floor(Date.now() / 1000)
  let next = 0
  let tokenChars = 0
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < count) {
      const userID = `user_${String(next++).padStart(7, '0')}`
      const flow = store.flow({ userID, platformID: 5 })
      const look = await flow.look(true)
      if (look.kind !== 'lease') throw new Error(`expected the lock for ${userID}`)
      const token = openImToken(userID, now)
      tokenChars += token.length
      await look.lease.remember({ token, expiresAt: Date.now() + 7_776_000_000, lifetimeSeconds: 7_776_000 })
      await flow.end()
    }
  }))
  const after = await usedMemory(admin)
  const key = redis.keys.pair({ userID: 'user_0000000', platformID: 5 }).token
  const keyBytes = Number(await admin.call('MEMORY', 'USAGE', key))
  await redis.close()
  await server.close()
  return { perToken: (after - before) / count, keyBytes, tokenChars: Math.round(tokenChars / count) }
}

const count = Number(process.env.BENCH_REDIS_TOKENS ?? 50_000)
export async function redisMemory () {
  for (const upgradeWindow of [false, true]) {
    const { perToken, keyBytes, tokenChars } = await measure(count, upgradeWindow)
    const when = upgradeWindow ? 'within the upgrade window (both names written)' : 'after the upgrade window'
    console.log(`| ${when} | ${count} | ${tokenChars} | ` +
      `${perToken.toFixed(0)} | ${keyBytes} | ${(perToken * 1_000_000 / 1024 / 1024).toFixed(0)} MiB |`)
  }
}
