import t from 'tap'
import { ADMIN, HUNG_CALL_TIMEOUT_MS, userCount } from '../helper.js'
import { GENERATIONS, check, doctor, startDoctorOpenIm, statuses } from './helper.js'

// Every release the emulator plays, healthy and broken in the ways operators break it.
for (const release of GENERATIONS) {
  t.test(`${release.mode}`, async (t) => {
    t.test('a healthy deployment gets a clean report', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      const report = await doctor(emulator.url)
      t.same(statuses(report), {
        'openim.reachable': 'pass',
        'openim.generation': release.generationStatus,
        'openim.admin': 'pass',
        'openim.shapes': 'pass',
        'openim.token_lifetime': 'pass',
        'openim.clock': 'pass',
        write: 'skip',
        'gateway.caller_auth': 'pass',
        'gateway.redis': 'skip',
        'gateway.jwks': 'skip',
        'openim.public_api': 'skip',
        'openim.public_ws': 'skip'
      })
      t.equal(report.ok, true)
      t.match(check(report, 'openim.generation').facts, { release: release.release })
      t.match(check(report, 'openim.reachable').facts, { samples: 5, p50Ms: Number, maxMs: Number, tls: null })
      t.match(check(report, 'openim.token_lifetime').summary, /^90 days/)
      t.equal(userCount(emulator), 0, 'nothing is registered without --write')
    })

    t.test('a wrong secret is named, with where the right one lives', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      const report = await doctor(emulator.url, { OPENIM_SECRET: 'not-the-secret' })
      const admin = check(report, 'openim.admin')
      t.equal(admin.status, 'fail')
      t.match(admin.summary, /refused the secret \(errCode 1002/)
      t.equal(admin.hint, 'OPENIM_SECRET does not match `secret` in OpenIM\'s share.yml / IMENV_SHARE_SECRET')
      t.equal(check(report, 'openim.shapes').status, 'skip')
      t.equal(report.ok, false)
    })

    t.test('a wrong admin userID is named', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      const report = await doctor(emulator.url, { OPENIM_ADMIN_USER_ID: 'notTheAdmin' })
      const admin = check(report, 'openim.admin')
      t.equal(admin.status, 'fail')
      t.match(admin.summary, /notTheAdmin/)
      t.match(admin.hint, /OPENIM_ADMIN_USER_ID is not in `imAdminUserID`/)
      t.equal(report.ok, false)
    })

    t.test('a path prefix OpenIM does not have is named, with the URL to use', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      const report = await doctor(`${emulator.url}/api`)
      t.equal(check(report, 'openim.reachable').status, 'pass', 'something answers there')
      const generation = check(report, 'openim.generation')
      t.equal(generation.status, 'fail')
      t.match(generation.summary, /knows neither \/auth\/get_admin_token nor \/auth\/user_token/)
      t.equal(generation.hint, `OPENIM_API_URL ends in "/api" but OpenIM's routes start at the root: set it to ${emulator.url} ` +
        '(keep a path only if a proxy in front of OpenIM really maps it)')
      t.equal(check(report, 'openim.admin').status, 'skip')
      t.equal(report.ok, false)
    })

    t.test('an HTML page from a proxy is called a proxy, and nothing after it is tried', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      emulator.injectFault('*', { kind: 'html' }, Infinity)
      const report = await doctor(emulator.url)
      const reachable = check(report, 'openim.reachable')
      t.equal(reachable.status, 'fail')
      t.match(reachable.summary, /an HTML page \("502 Bad Gateway"\) answered with HTTP 502/)
      t.match(reachable.hint, /proxy.*OPENIM_API_URL|OPENIM_API_URL.*proxy/)
      t.equal(emulator.callCount(), 1, 'one call, then the OpenIM checks are skipped')
      t.same(['openim.generation', 'openim.admin', 'openim.shapes'].map((id) => check(report, id).status), ['skip', 'skip', 'skip'])
    })

    t.test('a hanging server fails within the timeout', async (t) => {
      const emulator = await startDoctorOpenIm(t, { mode: release.mode })
      emulator.injectFault('*', { kind: 'hang' }, Infinity)
      const report = await doctor(emulator.url, { OPENIM_TIMEOUT_MS: '300' })
      const reachable = check(report, 'openim.reachable')
      t.equal(reachable.status, 'fail')
      t.match(reachable.summary, /did not answer within 300 ms/)
      t.match(reachable.hint, /OPENIM_TIMEOUT_MS/)
      // Ended by the timeout (the summary says so), which never fires early, however busy the machine.
      t.ok(reachable.durationMs >= 300, `not before the timeout (took ${reachable.durationMs} ms)`)
      t.equal(report.ok, false)
    })

    for (const [skew, status] of [[20, 'warn'], [-20, 'warn'], [120, 'fail']] as const) {
      t.test(`an OpenIM clock ${skew} s off is a ${status}`, async (t) => {
        const emulator = await startDoctorOpenIm(t, { mode: release.mode, clockSkewSeconds: skew })
        const report = await doctor(emulator.url)
        const clock = check(report, 'openim.clock')
        t.equal(clock.status, status)
        t.match(clock.summary, new RegExp(`OpenIM's clock is \\d+(\\.\\d)? s ${skew > 0 ? 'ahead of' : 'behind'} this host's`))
        t.match(clock.hint, /time synchronisation/)
        const facts = clock.facts as { skewSeconds: number, fromTokenIatSeconds: number }
        t.ok(Math.abs(facts.skewSeconds - skew) <= 1, `the Date header says ${facts.skewSeconds} s`)
        t.ok(Math.abs(facts.fromTokenIatSeconds - skew) <= 1.5, `so does the admin token's iat: ${facts.fromTokenIatSeconds} s`)
        t.equal(report.ok, status !== 'fail')
      })
    }
  })
}

t.test('OPENIM_API_MODE naming the other generation is a failure naming the fix', async (t) => {
  const emulator = await startDoctorOpenIm(t, { mode: 'legacy' })
  const generation = check(await doctor(emulator.url, { OPENIM_API_MODE: 'current' }), 'openim.generation')
  t.equal(generation.status, 'fail')
  t.equal(generation.hint, 'OPENIM_API_MODE=current but this server speaks the legacy API: set OPENIM_API_MODE=auto (or legacy)')
})

t.test('a legacy server whose get_admin_token answers 1001 (a token check before routing) is v3.8.0, whatever the text', async (t) => {
  // What v3.8.0's global token check answers for get_admin_token, a route it does not have (CONTRACT.md §1).
  const emulator = await startDoctorOpenIm(t, { mode: 'legacy' })
  emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', errCode: 1001, errDlt: '' }, Infinity)
  const generation = check(await doctor(emulator.url), 'openim.generation')
  t.equal(generation.status, 'warn')
  t.match(generation.facts, { generation: 'legacy', release: 'v3.8.0' })
  t.match(generation.hint, /OpenIM v3.8.0 refuses them/)
})

t.test('an admin userID that gets a token but is refused admin calls is named', async (t) => {
  // Up to v3.8.0 /auth/user_token mints for any existing user; only admin calls tell it is no admin.
  const emulator = await startDoctorOpenIm(t, { mode: 'legacy' })
  emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1002, errDlt: 'only admin can do this' })
  const admin = check(await doctor(emulator.url), 'openim.admin')
  t.equal(admin.status, 'fail')
  t.match(admin.summary, /"imAdmin" got a token but is not an admin/)
  t.match(admin.hint, /OPENIM_ADMIN_USER_ID is not in `imAdminUserID`/)
})

t.test('account_check answers the gateway cannot read fail; another generation\'s spelling is a warning', async (t) => {
  const answer = (statuses: unknown[]) => JSON.stringify({
    errCode: 0, errMsg: '', errDlt: '', data: { results: [{ userID: ADMIN, accountStatus: statuses[0] }, { userID: 'gwdoctor_probe', accountStatus: statuses[1] }] }
  })
  const emulator = await startDoctorOpenIm(t, { mode: 'legacy' })
  emulator.injectFault('/user/account_check', { kind: 'text', body: answer([1, 0]) }, Infinity)
  const shapes = check(await doctor(emulator.url), 'openim.shapes')
  t.equal(shapes.status, 'warn')
  t.match(shapes.summary, /accountStatus 1, not the legacy spelling/)

  emulator.clearFaults()
  emulator.injectFault('/user/account_check', { kind: 'text', body: answer(['maybe', 'maybe']) }, Infinity)
  const admin = check(await doctor(emulator.url), 'openim.admin')
  t.equal(admin.status, 'fail')
  t.match(admin.summary, /the gateway's client fails: OpenIM answered account_check with an unexpected result shape/)
})

t.test('OpenIM\'s default secret is a warning even when it works', async (t) => {
  const emulator = await startDoctorOpenIm(t, { secret: 'openIM123' })
  const report = await doctor(emulator.url, { OPENIM_SECRET: 'openIM123' })
  const admin = check(report, 'openim.admin')
  t.equal(admin.status, 'warn')
  t.match(admin.hint, /one of the defaults OpenIM ships with/)
  t.equal(report.ok, true)
})

t.test('admin-token refusals other than the secret point at the admin account, or at OpenIM itself', async (t) => {
  const cases: Array<[number, RegExp, RegExp]> = [
    [1004, /"imAdmin" is not an OpenIM user \(errCode 1004/, /OPENIM_ADMIN_USER_ID is not in `imAdminUserID`/],
    [500, /OpenIM refused the admin token \(errCode 500/, /OpenIM's own logs/]
  ]
  for (const [errCode, summary, hint] of cases) {
    const emulator = await startDoctorOpenIm(t)
    emulator.injectFault('/auth/get_admin_token', { kind: 'errCode', errCode }, Infinity)
    const admin = check(await doctor(emulator.url), 'openim.admin')
    t.equal(admin.status, 'fail', String(errCode))
    t.match(admin.summary, summary)
    t.match(admin.hint, hint)
  }
})

t.test('token lifetimes: in hours, or none at all', async (t) => {
  const short = await startDoctorOpenIm(t, { tokenLifetimeSeconds: 7200 })
  t.equal(check(await doctor(short.url), 'openim.token_lifetime').summary, '2 h (OpenIM\'s tokenPolicy.expire; the gateway reports expiresAt from it)')
  const none = await startDoctorOpenIm(t, { tokenLifetimeSeconds: 0 })
  const admin = check(await doctor(none.url), 'openim.admin')
  t.equal(admin.status, 'fail')
  t.match(admin.summary, /a lifetime of 0 s: they expire at once/)
  t.match(admin.hint, /tokenPolicy\.expire/)
})

t.test('an admin token that is no JWT fails the lifetime check, and the clock check still reads the Date header', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  // Only the doctor's own mint: the gateway's client mints a real one and passes.
  emulator.injectFault('/auth/get_admin_token', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":"","data":{"token":"not-a-jwt","expireTimeSeconds":7776000}}' })
  const report = await doctor(emulator.url)
  t.equal(check(report, 'openim.admin').status, 'pass')
  t.match(check(report, 'openim.token_lifetime'), { status: 'fail', summary: /not a JWT/ })
  t.match(check(report, 'openim.clock'), { status: 'pass', facts: { fromTokenIatSeconds: null } })
})

t.test('a server that stops answering in the middle fails that check, naming the call and the timeout', async (t) => {
  const emulator = await startDoctorOpenIm(t)
  emulator.injectFault('/auth/get_admin_token', { kind: 'hang' }, Infinity)
  // The calls before the hung one must answer within the timeout too: one no busy machine reaches.
  const generation = check(await doctor(emulator.url, { OPENIM_TIMEOUT_MS: HUNG_CALL_TIMEOUT_MS }), 'openim.generation')
  t.equal(generation.status, 'fail')
  t.equal(generation.summary, `OpenIM did not answer within ${HUNG_CALL_TIMEOUT_MS} ms (/auth/get_admin_token)`)
  t.match(generation.hint, /OPENIM_TIMEOUT_MS/)
})

t.test('v3.8.3 at a wrong path: every path answers 1001 with no text, and it is still OPENIM_API_URL that is named', async (t) => {
  // Unknown paths pass OpenIM's global token check first (internal/api/router.go GinParseToken at v3.8.3-patch.16):
  // get_admin_token and /auth/user_token both answer 1001 there, as for a wrong admin userID at the right path.
  const emulator = await startDoctorOpenIm(t)
  const wrongPath = check(await doctor(`${emulator.url}/openim`), 'openim.generation')
  t.equal(wrongPath.status, 'fail')
  t.match(wrongPath.hint, /OPENIM_API_URL ends in "\/openim"/)
  t.match(wrongPath.facts, { answers: /get_admin_token: OpenIM answered errCode 1001; \/auth\/user_token: OpenIM answered errCode 1001/ })
  const wrongAdmin = check(await doctor(emulator.url, { OPENIM_ADMIN_USER_ID: 'notTheAdmin' }), 'openim.admin')
  t.match(wrongAdmin, { status: 'fail', summary: /OpenIM refused "notTheAdmin" as its admin \(errCode 1001/ }, 'the right path: the admin userID')
  t.notOk(emulator.recentCalls.some((call) => call.path.startsWith('/openim/') && call.body.includes('notTheAdmin')))
})

t.test('a legacy server\'s 1002 is the secret, whatever its text says', async (t) => {
  for (const mode of ['legacy', 'v3.8.0'] as const) {
    const emulator = await startDoctorOpenIm(t, { mode })
    emulator.injectFault('/auth/user_token', { kind: 'errCode', errCode: 1002, errDlt: '' }, Infinity)
    const admin = check(await doctor(emulator.url), 'openim.admin')
    t.match(admin, { status: 'fail', summary: /OpenIM refused the secret \(errCode 1002/ }, mode)
  }
})
