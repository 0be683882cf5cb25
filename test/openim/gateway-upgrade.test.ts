import { mock } from 'node:test'
import t, { type Test } from 'tap'
import type { EmulatorMode } from '../../src/emulator/modes.js'
import { ADMIN, buildGateway, provision, startOpenIm } from '../helper.js'

// Whole gateways (default settings) against an OpenIM that changes under them: the admin tokens they mint
// over half an hour, and what their callers see while OpenIM is upgraded or downgraded in place.

/** Admin tokens minted on a legacy server: /auth/user_token for platform 10 (get_admin_token is only asked, and 404s). */
const adminMints = (emulator: { recentCalls: Array<{ path: string, body: string }> }) =>
  emulator.recentCalls.filter((call) => call.path === '/auth/user_token' && JSON.parse(call.body).platformID === 10).length

for (const mode of ['legacy', 'v3.8.0'] as const) {
  t.test(`${mode}: a gateway with default settings mints the admin token once in 30 minutes of steady use`, async (t) => {
    // Date only: undici, the emulator and Fastify keep their real timers; every clock read (the client's
    // cache, the emulator's token times) moves with the ticks.
    mock.timers.enable({ apis: ['Date'], now: Date.now() })
    t.teardown(() => mock.timers.reset())
    const emulator = await startOpenIm(t, { mode })
    const { app } = await buildGateway(t, emulator.url)
    for (let minute = 0; minute <= 30; minute++) {
      const response = await provision(app, { userID: `user_${minute}`, platformID: 5 })
      t.equal(response.statusCode, 201, `minute ${minute}`)
      mock.timers.tick(60_000)
    }
    t.equal(adminMints(emulator), 1, 'one admin token')
    t.equal(emulator.tokens.storedCount(ADMIN, 10), 1, 'one field in OpenIM\'s TOKEN:imAdmin:10 hash')
  })
}

t.test('OPENIM_ADMIN_TOKEN_TTL_SECONDS set: a legacy gateway re-mints on that schedule (the 30-minute test can fail)', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: Date.now() })
  t.teardown(() => mock.timers.reset())
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url, { OPENIM_ADMIN_TOKEN_TTL_SECONDS: '240' })
  for (let minute = 0; minute <= 30; minute++) {
    t.equal((await provision(app, { userID: `user_${minute}`, platformID: 5 })).statusCode, 201)
    mock.timers.tick(60_000)
  }
  t.equal(adminMints(emulator), 8, 'at minutes 0, 4, 8 … 28')
  t.equal(emulator.tokens.storedCount(ADMIN, 10), 8, 'each one a field OpenIM keeps for 90 days')
})

interface Tally { ok: number, failed: Record<string, number> }

/**
 * Replicas under steady traffic (a few callers each, new and returning users) while OpenIM changes version
 * once `switchAfter` requests have been answered in all.
 */
async function upgradeUnderTraffic (t: Test, from: EmulatorMode, to: EmulatorMode) {
  const emulator = await startOpenIm(t, { mode: from })
  const replicas = await Promise.all([0, 1].map(async () => (await buildGateway(t, emulator.url)).app))
  const tallies: Tally[] = replicas.map(() => ({ ok: 0, failed: {} }))
  const perCaller = 20
  const switchAfter = 40
  let answered = 0
  let callsAtSwitch = -1
  await Promise.all(replicas.flatMap((app, replica) => [0, 1, 2].map(async (caller) => {
    for (let i = 0; i < perCaller; i++) {
      // Every other request a returning user: reuse, no registration.
      const userID = `r${replica}_c${caller}_${i % 2 === 0 ? i : i - 1}`
      const response = await provision(app, { userID, platformID: 1 + (i % 2) })
      const tally = tallies[replica]!
      if (response.statusCode < 300) tally.ok += 1
      else tally.failed[response.json().code] = (tally.failed[response.json().code] ?? 0) + 1
      answered += 1
      if (answered === switchAfter) {
        emulator.switchMode(to)
        callsAtSwitch = emulator.recentCalls.length
      }
    }
  })))
  t.ok(callsAtSwitch > 0, 'OpenIM changed under the traffic')
  for (const [replica, tally] of tallies.entries()) {
    const failures = Object.values(tally.failed).reduce((sum, count) => sum + count, 0)
    t.comment(`replica ${replica}: ${tally.ok} answered, failed ${JSON.stringify(tally.failed)}`)
    t.ok(failures <= 1, `replica ${replica}: at most one failed request (${failures})`)
    t.notOk('OPENIM_AUTH_FAILED' in tally.failed, `replica ${replica}: never OPENIM_AUTH_FAILED`)
    t.equal(tally.ok + failures, 3 * perCaller)
  }
  const after = emulator.recentCalls.slice(callsAtSwitch).map((call) => call.path)
  const mintPath = to === 'current' ? '/auth/get_user_token' : '/auth/user_token'
  t.ok(after.slice(-10).includes(mintPath), `the last calls mint the ${to === 'current' ? 'current' : 'legacy'} way`)
  for (const app of replicas) t.equal(await app.openim.connectedGeneration({ operationID: 'end' }), to === 'current' ? 'current' : 'legacy')
}

for (const from of ['legacy', 'v3.8.0'] as const) {
  t.test(`${from} upgraded to v3.8.3 under steady traffic: at most one failed request per replica, never OPENIM_AUTH_FAILED`, async (t) => {
    await upgradeUnderTraffic(t, from, 'current')
  })
}

t.test('v3.8.3 downgraded to v3.8.0 under steady traffic: the same', async (t) => {
  await upgradeUnderTraffic(t, 'current', 'v3.8.0')
})
