import type { Redis } from 'ioredis'
import t from 'tap'
import { KeyNames } from '../../src/redis/key-names.js'
import { SECRET, SERVICE_KEY, buildGateway, provision, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startDelayingProxy, startSentinel, type SentinelSet } from '../redis.js'

// The gateway behind Sentinel (one primary, one replica, three sentinels, down-after-milliseconds 1000), as
// REDIS_SENTINELS and REDIS_SENTINEL_MASTER configure it.

const mints = (emulator: { callCount (path: string): number }) => emulator.callCount('/auth/get_user_token')

/**
 * Waits until every sentinel names the promoted replica. Each sentinel publishes +switch-master when it switches
 * (the leader first, the others up to seconds later), and ioredis reconnects on each: until all have, a gateway
 * back on the new primary may still be sent away once more.
 */
async function everySentinelNames (set: SentinelSet, port: number) {
  await waitFor(async () => (await set.primaryPorts()).every((named) => named === port), 'every sentinel to name the promoted replica')
}

t.test('through Sentinel: limits are shared exactly, and a token minted on one replica is reused on the other', async (t) => {
  if (skipWithoutRedis(t)) return
  const set = await startSentinel(t)
  const emulator = await startOpenIm(t)
  const env = { ...set.env, RATE_LIMIT_MAX: '5' }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  const first = await provision(a.app, { userID: 'sena', platformID: 5 })
  t.equal(first.statusCode, 201)
  t.match((await provision(b.app, { userID: 'sena', platformID: 5 })).json(), { reused: true, token: first.json().token })
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await provision(i % 2 === 0 ? a.app : b.app, { userID: 'sena', platformID: 5 })).statusCode)
  t.same(statuses, [200, 200, 200, 429], 'five requests per window across both replicas, not five each')
  t.equal(mints(emulator), 1)
  const primary = set.primary.admin()
  t.equal(await primary.exists(new KeyNames(SECRET).pair({ userID: 'sena', platformID: 5 }).token), 1, 'written to the primary the sentinels name')
})

t.test('the primary killed: users holding tokens keep them through the failover, and the gateway follows it to the new primary', async (t) => {
  if (skipWithoutRedis(t)) return
  const set = await startSentinel(t)
  const emulator = await startOpenIm(t)
  const [a, b] = [await buildGateway(t, emulator.url, set.env), await buildGateway(t, emulator.url, set.env)]
  const users = ['fay', 'gus', 'hal', 'ida']
  const tokens = new Map<string, string>()
  for (const userID of users) tokens.set(userID, (await provision(a.app, { userID, platformID: 5 })).json().token)
  for (const userID of users) await provision(b.app, { userID, platformID: 5 })
  const replica = set.replica.admin()
  await waitFor(async () => (await replica.dbsize()) > users.length, 'the replica to hold the tokens')
  t.equal(mints(emulator), users.length)

  await set.primary.stop()
  const answers = []
  for (const app of [a.app, b.app]) for (const userID of users) answers.push((await provision(app, { userID, platformID: 5 })).json())
  t.same(answers.map((answer) => answer.token), [...users, ...users].map((userID) => tokens.get(userID)), 'every user keeps the token it holds')
  t.equal(mints(emulator), users.length, 'no mint while the primary is gone')

  await everySentinelNames(set, set.replica.port)
  await waitFor(() => a.app.redis?.writable === true && b.app.redis?.writable === true, 'both replicas to write to the new primary').catch((error) => {
    for (const [name, replica] of [['a', a], ['b', b]] as const) {
      const status = String((replica.app.redis?.client as { status?: string } | undefined)?.status)
      t.comment(`replica ${name}, client ${status}: ${replica.logs.lines.filter((line) => /Redis/.test(line)).join('\n')}`)
    }
    throw error
  })
  const late = await provision(a.app, { userID: 'jon', platformID: 5 })
  t.equal(late.statusCode, 201)
  t.equal(await replica.exists(new KeyNames(SECRET).pair({ userID: 'jon', platformID: 5 }).token), 1, 'written to the promoted replica')
  t.match((await provision(b.app, { userID: 'jon', platformID: 5 })).json(), { reused: true, token: late.json().token }, 'shared again')
  for (const userID of users) t.match((await provision(b.app, { userID, platformID: 5 })).json(), { reused: true, token: tokens.get(userID) })
  t.equal(mints(emulator), users.length + 1, 'one mint: the new user\'s')
  // Said once, and once more if ioredis meets the new primary before the sentinels' +switch-master makes it reconnect.
  const states = a.logs.records.map((line) => String(line.msg)).filter((msg) => /^Redis (degraded|recovered)/.test(msg)).map((msg) => msg.split(':')[0])
  t.ok(states.length <= 4 && states.every((state, i) => state === (i % 2 === 0 ? 'Redis degraded' : 'Redis recovered')), states.join(', '))
})

t.test('a failover announced while the gateway is asking the sentinels where the primary is: it follows it all the same', async (t) => {
  if (skipWithoutRedis(t)) return
  const set = await startSentinel(t)
  // The gateway is given one sentinel, behind a proxy that can hold its answers; it learns the others from it.
  const proxy = await startDelayingProxy(t, set.sentinels[0]!)
  const emulator = await startOpenIm(t)
  const env = { REDIS_SENTINELS: new URL(proxy.url).host, REDIS_SENTINEL_MASTER: set.masterName, REDIS_COMMAND_TIMEOUT_MS: '10000' }
  const { app } = await buildGateway(t, emulator.url, env)
  t.equal((await provision(app, { userID: 'kay', platformID: 5 })).statusCode, 201)
  const client = app.redis!.client as Redis
  const statuses: string[] = []
  for (const status of ['end', 'ready']) client.on(status, () => statuses.push(status))

  // ioredis's failover detector holds a +switch-master subscription on every sentinel it knows.
  const sentinelAdmins = set.sentinels.map((sentinel) => sentinel.admin())
  const subscribers = async () => await Promise.all(sentinelAdmins.map(async (admin) =>
    String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.trim() !== '').length))
  await waitFor(async () => (await subscribers()).every((count) => count > 0), 'the failover detector to subscribe on every sentinel')

  // The gateway's connection to the primary closes: it asks the sentinels again, and that question's answer is held.
  let release!: () => void
  const asking = proxy.holdReplyUntil('get-master-addr-by-name', new Promise<void>((resolve) => { release = resolve }))
  const primaryAdmin = set.primary.admin()
  const own = String(await primaryAdmin.call('CLIENT', 'ID'))
  // Every normal client but this one: the gateway's, and the sentinels' command links (they reconnect at once).
  const clients = String(await primaryAdmin.call('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n').filter((line) => line.startsWith('id='))
  for (const line of clients) if (!line.startsWith(`id=${own} `)) await primaryAdmin.call('CLIENT', 'KILL', 'ID', /^id=(\d+)/.exec(line)![1]!)
  await asking

  // Meanwhile the sentinels fail over; the detector hears +switch-master and lets go of them.
  await sentinelAdmins[1]!.call('SENTINEL', 'FAILOVER', set.masterName)
  await waitFor(async () => (await subscribers()).every((count) => count === 0), 'the failover detector to hear +switch-master')
  release()

  await everySentinelNames(set, set.replica.port)
  await waitFor(() => app.redis?.writable === true && client.status === 'ready', 'the gateway to write to the new primary')
  t.same(statuses.slice(0, 2), ['end', 'ready'], 'ioredis gave up on its own (the race this is about), and the gateway connected it again')
  t.equal((await provision(app, { userID: 'lee', platformID: 5 })).statusCode, 201)
  t.equal(await set.replica.admin().exists(new KeyNames(SECRET).pair({ userID: 'lee', platformID: 5 }).token), 1, 'written to the promoted replica')
})

t.test('a primary name the sentinels do not watch: degraded from the start, the cause named', async (t) => {
  if (skipWithoutRedis(t)) return
  const set = await startSentinel(t)
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { ...set.env, REDIS_SENTINEL_MASTER: 'nobody' })
  t.equal(app.redis?.available, false)
  t.equal((await provision(app, { userID: 'kim', platformID: 5 }, { 'x-api-key': SERVICE_KEY })).statusCode, 201, 'served per replica')
  t.match(logs.records.filter((line) => /Redis degraded/.test(String(line.msg))), [{ cause: 'topology', hint: /REDIS_SENTINEL_MASTER/ }])
})
