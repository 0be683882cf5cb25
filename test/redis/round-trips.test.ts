import t from 'tap'
import { FORGET_IF_UNCHANGED, LOOK, RELEASE, REMEMBER, RENEW } from '../../src/provisioning/token-store/scripts.js'
import { buildGateway, post, provision, startOpenIm, waitFor } from '../helper.js'
import { skipWithoutRedis, startCluster, startDelayingProxy, startRedis, type DelayingProxy } from '../redis.js'

// How many times a request waits on Redis, counted on the wire (a proxy reading every command the gateway sends) and,
// on a Cluster, from each primary's own INFO commandstats: a first provision in at most 3 sequential round trips
// besides the rate limiter's, a reuse in 2 in all, a revoke in one multi-key command.

const SCRIPTS = new Map([[LOOK, 'look'], [REMEMBER, 'remember'], [RENEW, 'renew'], [RELEASE, 'release'], [FORGET_IF_UNCHANGED, 'forget']])
const nameOf = ([command = '', script = '']: string[]) =>
  command.toUpperCase() !== 'EVAL' ? command.toUpperCase() : script.includes("'INCR'") ? 'rate-limit' : SCRIPTS.get(script) ?? 'another script'

/** The commands `request` made the gateway send, each as `name` (and its chunk: one per round trip). */
async function sentDuring (proxy: DelayingProxy, request: () => Promise<unknown>) {
  const from = proxy.commands.length
  await request()
  const sent = proxy.commands.slice(from)
  return { names: sent.map((command) => nameOf(command.args)), roundTrips: new Set(sent.map((command) => command.chunk)).size, sent }
}

t.test('round trips on the wire: first provision 1 + 3, reuse 1 + 1, revoke 1 + 1 (one DEL of every platform\'s token)', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t)
  const proxy = await startDelayingProxy(t, server.node)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { REDIS_URL: proxy.url })
  // The connection's own checks and the key layout's marker, sent once at start.
  await waitFor(() => proxy.commands.some((command) => /key-layout/.test(command.args.join(' '))), 'the start-up commands')

  const first = await sentDuring(proxy, () => provision(app, { userID: 'rudi', platformID: 5 }))
  t.same(first.names, ['rate-limit', 'look', 'renew', 'remember'],
    'the token or the lock in one script; the lease renewed right before the mint; the token remembered and the lock released in one')
  t.equal(first.roundTrips, 4)
  const reuse = await sentDuring(proxy, () => provision(app, { userID: 'rudi', platformID: 5 }))
  t.same(reuse.names, ['rate-limit', 'look'])
  t.equal(reuse.roundTrips, 2)
  const revoke = await sentDuring(proxy, () => post(app, '/revoke', { userID: 'rudi' }))
  t.same(revoke.names, ['rate-limit', 'DEL'])
  t.equal(revoke.sent[1]!.args.length - 1, 18, 'the nine platforms\' tokens, under their names and the previous release\'s (during an upgrade)')
})

t.test('on a Cluster, counted by the primaries themselves: the same commands, each script on one slot', async (t) => {
  if (skipWithoutRedis(t)) return
  const cluster = await startCluster(t)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, cluster.env)
  const primaries = await cluster.primaries()
  const counts = async () => {
    const total = new Map<string, number>()
    for (const node of primaries) {
      for (const [, command, calls] of (await node.admin().info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
        total.set(command!, (total.get(command!) ?? 0) + Number(calls))
      }
    }
    return total
  }
  const during = async (request: () => Promise<unknown>) => {
    const before = await counts()
    await request()
    const after = await counts()
    // INFO itself, and the commands scripts run inside (counted under their own names), are not round trips.
    return { eval: (after.get('eval') ?? 0) - (before.get('eval') ?? 0), del: (after.get('del') ?? 0) - (before.get('del') ?? 0) }
  }
  // (The DEL inside the remember script, releasing the lock, counts as a del; no DEL is sent on its own.)
  t.same(await during(() => provision(app, { userID: 'cleo', platformID: 5 })), { eval: 4, del: 1 }, 'rate limiter, look, renew, remember')
  t.same(await during(() => provision(app, { userID: 'cleo', platformID: 5 })), { eval: 2, del: 0 }, 'rate limiter, look')
  t.same(await during(() => post(app, '/revoke', { userID: 'cleo' })), { eval: 1, del: 1 }, 'rate limiter, one DEL')
})
