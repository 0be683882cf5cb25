import t from 'tap'
import { SECRET, buildGateway, provision, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startRedis } from '../redis.js'
import { KeyNames } from '../../src/redis/key-names.js'

// A Redis that answers reads but refuses writes (OOM under noeviction; a read-only replica behind REDIS_URL): reads
// go on, so users holding tokens keep them on every replica, and only what would be written is kept per replica.

const mints = (emulator: { callCount (path: string): number }) => emulator.callCount('/auth/get_user_token')
const metric = async (app: { metrics: { registry: { metrics (): Promise<string> } } }, name: string) =>
  Number(new RegExp(`^openim_gateway_${name} (\\d+)$`, 'm').exec(await app.metrics.registry.metrics())?.[1] ?? 0)

t.test('Redis full (maxmemory, noeviction): tokens are still read on every replica; a new user is minted once', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, ['--maxmemory-policy', 'noeviction'])
  const emulator = await startOpenIm(t)
  const env = { REDIS_URL: server.url, RATE_LIMIT_MAX: '1000' }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  const users = ['olga', 'omar', 'otto']
  const tokens = new Map<string, string>()
  for (const userID of users) tokens.set(userID, (await provision(a.app, { userID, platformID: 5 })).json().token)
  const admin = server.node.admin()
  await admin.config('SET', 'maxmemory', '1')

  for (const userID of users) {
    t.match((await provision(b.app, { userID, platformID: 5 })).json(), { reused: true, token: tokens.get(userID) }, `${userID}: read from Redis by a replica that never saw it`)
  }
  t.equal(mints(emulator), users.length, 'no mint')
  t.equal(b.app.redis?.available, true, 'reads go on')
  t.equal(b.app.redis?.writable, false)
  t.match(b.logs.records.filter((line) => /^Redis degraded/.test(String(line.msg))), [{ cause: 'full', msg: /refuses writes; reads go on/ }], 'said once')
  t.equal(await metric(b.app, 'redis_degraded'), 1)

  const fresh = await provision(b.app, { userID: 'pia', platformID: 5 })
  t.equal(fresh.statusCode, 201)
  t.match((await provision(b.app, { userID: 'pia', platformID: 5 })).json(), { reused: true, token: fresh.json().token }, 'kept in this replica meanwhile')
  t.equal(await metric(b.app, 'mints_degraded_total'), 1)

  await admin.config('SET', 'maxmemory', '0')
  await waitFor(() => b.app.redis?.writable === true, 'Redis to take writes again')
  t.match((await provision(b.app, { userID: 'pia', platformID: 5 })).json(), { reused: true, token: fresh.json().token })
  t.equal(await admin.exists(new KeyNames(SECRET).pair({ userID: 'pia', platformID: 5 }).token), 1, 'written back once handed out again')
  t.match((await provision(a.app, { userID: 'pia', platformID: 5 })).json(), { reused: true, token: fresh.json().token }, 'and shared')
  t.equal(mints(emulator), users.length + 1)
})

t.test('REDIS_URL naming a read-only replica: tokens are read from it, writes kept per replica, the fix named', async (t) => {
  if (skipWithoutRedis(t)) return
  const primary = await startRedis(t)
  const replica = await startRedis(t, ['--replicaof', '127.0.0.1', String(primary.node.port)])
  const emulator = await startOpenIm(t)
  const a = await buildGateway(t, emulator.url, { REDIS_URL: primary.url })
  const token = (await provision(a.app, { userID: 'rita', platformID: 5 })).json().token
  const replicaAdmin = replica.node.admin()
  await waitFor(async () => await replicaAdmin.exists(new KeyNames(SECRET).pair({ userID: 'rita', platformID: 5 }).token) === 1, 'the replica to hold the token')
  const b = await buildGateway(t, emulator.url, { REDIS_URL: replica.url })
  t.match((await provision(b.app, { userID: 'rita', platformID: 5 })).json(), { reused: true, token })
  t.equal(b.app.redis?.writable, false)
  t.match(b.logs.records.filter((line) => /^Redis degraded/.test(String(line.msg))), [{ cause: 'read-only', hint: /point it at the primary/ }])
  t.equal(mints(emulator), 1)
})
