import t from 'tap'
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { sharedRateLimitStore } from '../../src/http/plugins/rate-limit-store.js'
import { SharedRedis } from '../../src/redis/shared-redis.js'
import { SECRET } from '../helper.js'
import { redisSettings, skipWithoutRedis, startRedis } from '../redis.js'

const quiet = { error () {}, warn () {} }

t.test('routes with limits of their own count in namespaces of their own in Redis, as @fastify/rate-limit hands them over', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const redis = await SharedRedis.connect({ settings: redisSettings({ REDIS_URL: server.url }), secret: SECRET, log: quiet })
  t.teardown(() => redis.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(rateLimit, { global: true, max: 5, timeWindow: 60_000, store: sharedRateLimitStore(redis, quiet), keyGenerator: () => 'one-caller' })
  const own = { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }
  app.post('/first', own, async () => 'first')
  app.post('/second', own, async () => 'second')
  app.post('/global', async () => 'global')

  const statuses = []
  for (const url of ['/first', '/second', '/first', '/second', '/global']) statuses.push((await app.inject({ method: 'POST', url })).statusCode)
  t.same(statuses, [200, 200, 429, 429, 200], 'one allowed per route, whatever the other route counted')
  const keys = await redis.client.keys('*')
  t.equal(keys.length, 3, 'one counter per route namespace: /first, /second and the global one')
})
