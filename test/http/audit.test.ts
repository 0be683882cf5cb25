import t from 'tap'
import { SERVICE_KEY, buildGateway, post, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

t.test('one audit line per state-changing call: caller, action, target, platform, outcome, requestId; never a token', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const auditLines = () => logs.records.filter((line) => line.msg === 'audit').map((line) => line.audit)
  const created = await provision(app, { userID: 'xena', platformID: 5 }, { 'x-request-id': 'req-1' })
  await provision(app, { userID: 'xena', platformID: 2 }, { 'x-request-id': 'req-2' })
  await provision(app, { platformID: 5 }, { ...bearer(await signHs256({ sub: 'yuri' })), 'x-request-id': 'req-3' })
  await post(app, '/revoke', { userID: 'xena', platformID: 2 }, { 'x-request-id': 'req-4' })
  await provision(app, { userID: 'imAdmin', platformID: 5 }, { 'x-request-id': 'req-5' })
  emulator.injectFault('/auth/force_logout', { kind: 'drop' })
  await post(app, '/revoke', { userID: 'xena' }, { 'x-request-id': 'req-6' })
  await provision(app, { userID: 'xena', platformID: 5 }, { 'x-api-key': 'a-wrong-key-0123456789', 'x-request-id': 'req-7' })
  logs.watch({ 'the wrong key': 'a-wrong-key-0123456789' })
  t.same(auditLines(), [
    { action: 'provision', target: 'xena', platformID: 5, outcome: 'registered', caller: 'service:tests', requestId: 'req-1' },
    { action: 'provision', target: 'xena', platformID: 2, outcome: 'minted', caller: 'service:tests', requestId: 'req-2' },
    { action: 'provision', target: 'yuri', platformID: 5, outcome: 'registered', caller: 'user:yuri', requestId: 'req-3' },
    { action: 'revoke', target: 'xena', platformID: [2], outcome: 'revoked', caller: 'service:tests', requestId: 'req-4' },
    { action: 'provision', target: 'imAdmin', platformID: 5, outcome: 'refused', code: 'RESERVED_USER_ID', caller: 'service:tests', requestId: 'req-5' },
    { action: 'revoke', target: 'xena', platformID: [1, 2, 3, 4, 5, 6, 7, 8, 9], outcome: 'failed', code: 'OPENIM_UNAVAILABLE', caller: 'service:tests', requestId: 'req-6' }
  ], 'a refused authentication is no call at all: no audit line')
  t.notMatch(JSON.stringify(auditLines()), created.json().token)
  t.ok(logs.records.filter((line) => line.msg === 'audit').every((line) => line.level === 30), 'at info')
})

t.test('the import and profile routes write audit lines too: counts for a batch, the target for a profile change', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  const auditLines = () => logs.records.filter((line) => line.msg === 'audit').map((line) => line.audit)
  await post(app, '/users/import', { users: [{ userID: 'zed' }, { userID: 'imAdmin' }] }, { 'x-request-id': 'imp-1' })
  await app.inject({ method: 'PATCH', url: '/users/zed', payload: { nickname: 'Zed' }, headers: { 'x-api-key': SERVICE_KEY, 'x-request-id': 'pat-1' } })
  await app.inject({ method: 'PATCH', url: '/users/nobody', payload: { nickname: 'No' }, headers: { 'x-api-key': SERVICE_KEY, 'x-request-id': 'pat-2' } })
  t.same(auditLines(), [
    { action: 'import_users', counts: { users: 2, created: 1, existing: 0, failed: 1 }, outcome: 'registered', caller: 'service:tests', requestId: 'imp-1' },
    { action: 'update_profile', target: 'zed', outcome: 'updated', caller: 'service:tests', requestId: 'pat-1' },
    { action: 'update_profile', target: 'nobody', outcome: 'refused', code: 'USER_NOT_FOUND', caller: 'service:tests', requestId: 'pat-2' }
  ])
})

t.test('a remembered live token handed out again is audited as reused', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'ursa', platformID: 5 }, { 'x-request-id': 'reuse-1' })
  t.match((await provision(app, { userID: 'ursa', platformID: 5 }, { 'x-request-id': 'reuse-2' })).json(), { reused: true })
  t.same(logs.records.filter((line) => line.msg === 'audit').map((line) => line.audit), [
    { action: 'provision', target: 'ursa', platformID: 5, outcome: 'registered', caller: 'service:tests', requestId: 'reuse-1' },
    { action: 'provision', target: 'ursa', platformID: 5, outcome: 'reused', caller: 'service:tests', requestId: 'reuse-2' }
  ])
})
