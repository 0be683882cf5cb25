import t from 'tap'
import { buildGateway, post, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

const DEFAULT_RESERVED = ['imAdmin', 'openIM123456', 'openIM654321', 'openIMAdmin', 'chatAdmin']
// Not the helper's "openIM123": the refusals name "openIM123456", and the log check would call that a leaked secret.
const secret = 'reserved-test-secret'

for (const mode of ['legacy', 'current'] as const) {
  t.test(`${mode}: a service is refused 403 RESERVED_USER_ID for every default admin and system account, before any OpenIM call`, async (t) => {
    const emulator = await startOpenIm(t, { mode, secret })
    const { app } = await buildGateway(t, emulator.url, { OPENIM_SECRET: secret })
    for (const userID of DEFAULT_RESERVED) {
      const minted = await provision(app, { userID, platformID: 5 })
      t.equal(minted.statusCode, 403, `provision ${userID}`)
      t.match(minted.json(), { code: 'RESERVED_USER_ID', error: 'Forbidden', message: new RegExp(userID) })
      t.notOk('token' in minted.json())
      const revoked = await post(app, '/revoke', { userID })
      t.equal(revoked.statusCode, 403, `revoke ${userID}`)
      t.equal(revoked.json().code, 'RESERVED_USER_ID')
    }
    t.equal(emulator.callCount(), 0, 'OpenIM never asked')
  })
}

t.test('an end user whose subject is the admin is refused too', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url, { JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const token = bearer(await signHs256({ sub: 'imAdmin' }))
  t.equal((await provision(app, { platformID: 5 }, token)).json().code, 'RESERVED_USER_ID')
  t.equal((await post(app, '/revoke', {}, token)).json().code, 'RESERVED_USER_ID')
  t.equal(emulator.callCount(), 0)
})

t.test('OPENIM_ADMIN_USER_ID is always reserved; OPENIM_RESERVED_USER_IDS replaces the rest of the list', async (t) => {
  const emulator = await startOpenIm(t, { adminUserID: 'root_admin' })
  const { app } = await buildGateway(t, emulator.url, { OPENIM_ADMIN_USER_ID: 'root_admin', OPENIM_RESERVED_USER_IDS: 'notifier, ops_bot' })
  for (const userID of ['root_admin', 'notifier', 'ops_bot']) t.equal((await provision(app, { userID, platformID: 5 })).statusCode, 403, userID)
  t.equal((await provision(app, { userID: 'chatAdmin', platformID: 5 })).statusCode, 201, 'the default list no longer applies')
  t.equal((await provision(app, { userID: 'imAdmin2', platformID: 5 })).statusCode, 201, 'a longer name is not reserved')
})

t.test('a reserved ID in another case, with spaces around it, accents or invisible characters is refused too, on every route ' +
  'and in an import, before any OpenIM call', async (t) => {
  // Up to v3.4 OpenIM's MySQL collation (utf8mb4_unicode_ci) makes these the admin's own row; later, lookalikes.
  const emulator = await startOpenIm(t, { adminUserID: 'root_admin' })
  const { app } = await buildGateway(t, emulator.url, { OPENIM_ADMIN_USER_ID: 'root_admin', OPENIM_RESERVED_USER_IDS: 'imAdmin,ops_bot' })
  const variants = [' imAdmin ', 'IMADMIN', 'imadmin', 'imAdmin\t', 'ímAdmin', 'im\u200BAdmin', 'ＩＭＡＤＭＩＮ', 'ROOT_ADMIN', 'Root_Admin ', 'OPS_BOT']
  for (const userID of variants) {
    const minted = await provision(app, { userID, platformID: 5 })
    t.equal(minted.statusCode, 403, `provision ${JSON.stringify(userID)}`)
    t.equal(minted.json().code, 'RESERVED_USER_ID')
    t.equal((await post(app, '/revoke', { userID })).json().code, 'RESERVED_USER_ID', `revoke ${JSON.stringify(userID)}`)
  }
  const imported = await post(app, '/users/import', { users: variants.map((userID) => ({ userID })) })
  t.same(imported.json().results.map((result: { code?: string }) => result.code), variants.map(() => 'RESERVED_USER_ID'))
  t.equal(emulator.callCount(), 0, 'OpenIM never asked')
  t.equal((await provision(app, { userID: 'imAdmins', platformID: 5 })).statusCode, 201, 'a different name is not reserved')
})
