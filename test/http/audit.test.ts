import t from 'tap'
import { buildGateway, post, provision, startOpenIm } from '../helper.js'
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
