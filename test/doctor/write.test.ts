import t from 'tap'
import { DASHED_PROBE_USER_ID, PROBE_USER_ID } from '../../src/doctor/checks/write.js'
import { ADMIN } from '../helper.js'
import { GENERATIONS, check, doctor, startDoctorOpenIm } from './helper.js'

// --write: the probes that change OpenIM's state, with fixed probe users and nothing new on a rerun.
for (const release of GENERATIONS) {
  t.test(`${release.mode}: --write finds how tokens and userIDs behave, and a rerun creates nothing`, async (t) => {
    const emulator = await startDoctorOpenIm(t, { mode: release.mode })
    const first = await doctor(emulator.url, {}, true)
    t.same(first.checks.filter((result) => result.id.startsWith('write.')).map((result) => [result.id, result.status]), [
      ['write.probe_user', 'pass'],
      ['write.kick_on_mint', 'pass'],
      ['write.logout', 'pass'],
      ['write.user_id_rule', release.userIdRuleStatus]
    ])
    t.match(check(first, 'write.kick_on_mint').facts, { kicksOnMint: release.kicksOnMint })
    t.match(check(first, 'write.kick_on_mint').summary, release.kicksOnMint ? /^yes: / : /^no: /)
    t.match(check(first, 'write.logout').facts, { logoutKicks: release.logoutKicks })
    t.match(check(first, 'write.user_id_rule').facts, { dashAccepted: release.dashAccepted })
    const created = release.dashAccepted ? [PROBE_USER_ID, DASHED_PROBE_USER_ID] : [PROBE_USER_ID]
    t.same(first.target.created, created)
    t.same([...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort(), [...created].sort())
    t.match(check(first, 'write.probe_user').summary, /registered now \(it stays: OpenIM cannot delete users/)

    emulator.resetCounts()
    const rerun = await doctor(emulator.url, {}, true)
    t.same(rerun.target.created, [], 'nothing created on a rerun')
    t.equal(emulator.callCount('/user/user_register'), release.dashAccepted ? 0 : 1, 'only the refused dashed userID is tried again')
    t.same([...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort(), [...created].sort())
    t.match(check(rerun, 'write.probe_user').summary, /exists from an earlier run: nothing created/)
    t.match(check(rerun, 'write.kick_on_mint').facts, { kicksOnMint: release.kicksOnMint }, 'the same answers again')
    t.match(check(rerun, 'write.user_id_rule').facts, { dashAccepted: release.dashAccepted })
    t.equal(rerun.ok, true)
  })
}

t.test('without --write nothing is registered and the probes are one skipped line', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  const report = await doctor(emulator.url)
  t.equal(emulator.callCount('/user/user_register'), 0)
  t.equal(emulator.callCount('/auth/force_logout'), 0)
  t.equal(report.checks.filter((result) => result.id.startsWith('write')).length, 1)
  t.match(check(report, 'write').summary, /pass --write/)
})

t.test('a server that behaves unlike its release is a warning asking for a report', async (t) => {
  // A current server whose mint does not kick: kick-on-mint is current OpenIM's own behaviour, so say so.
  const emulator = await startDoctorOpenIm(t)
  emulator.injectFault('/auth/parse_token', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":"","data":{"userID":"gwdoctor_probe","platformID":5,"expireTimeSeconds":1}}' }, Infinity)
  const report = await doctor(emulator.url, {}, true)
  const kick = check(report, 'write.kick_on_mint')
  t.equal(kick.status, 'warn')
  t.match(kick.hint, /unexpected for OpenIM v3.8.1 or later: please report it/)
})

t.test('a refusal the probes do not expect fails, naming the call', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  emulator.injectFault('/auth/get_user_token', { kind: 'errCode', errCode: 500, errDlt: 'mongo: no reachable servers' }, Infinity)
  const report = await doctor(emulator.url, {}, true)
  const kick = check(report, 'write.kick_on_mint')
  t.equal(kick.status, 'fail')
  t.match(kick.summary, /minting a token for gwdoctor_probe failed: errCode 500 ServerInternalError/)
  t.notMatch(JSON.stringify(report), 'mongo', 'errDlt never reaches the report')
  t.equal(check(report, 'write.logout').status, 'skip')
})

t.test('v3.8.0\'s userID rule with the legacy API: the gateway lets "-" through, so say so', async (t) => {
  // v3.8.0 as the protocol shows it: get_admin_token unknown behind a token check, "-" refused at registration.
  const emulator = await startDoctorOpenIm(t, { mode: 'v3.8.0' })
  emulator.addUser(PROBE_USER_ID, { nickname: 'probe', createTime: 0 })
  const rule = check(await doctor(emulator.url, {}, true), 'write.user_id_rule')
  t.equal(rule.status, 'warn')
  t.match(rule.summary, /"-" refused \(errCode 1001 ArgsError\)/)
  t.match(rule.hint, /the gateway lets such userIDs through to this OpenIM, which refuses them/)
  t.match(rule.facts, { dashAccepted: false, gatewayAllows: true })
})

t.test('a connection dropped in the middle of the probes fails that probe only', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  emulator.injectFault('/auth/force_logout', { kind: 'drop' })
  const report = await doctor(emulator.url, {}, true)
  const logout = check(report, 'write.logout')
  t.equal(logout.status, 'fail')
  t.match(logout.summary, /OpenIM is unreachable \(.+\) \(\/auth\/force_logout\)/)
  t.match(logout.hint, /OPENIM_API_URL/)
  t.equal(check(report, 'write.user_id_rule').status, 'pass', 'the next probe still runs')
})
