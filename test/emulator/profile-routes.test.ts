import t, { type Test } from 'tap'
import { SECRET, adminToken, openImCall, startOpenIm } from '../helper.js'

// get_users_info and update_user_info_ex as open-im-server v3.7.1 (legacy) and v3.8.3-patch.15 (current) answer them.

async function withUser (t: Test, mode: 'current' | 'legacy') {
  const emulator = await startOpenIm(t, { mode })
  const token = await adminToken(emulator)
  const register = mode === 'current' ? { users: [{ userID: 'ann', nickname: 'Ann' }] } : { secret: SECRET, users: [{ userID: 'ann', nickname: 'Ann' }] }
  await openImCall(emulator.url, '/user/user_register', register, { token })
  return { emulator, token, call: (path: string, body: unknown, headers: Record<string, string> = { token }) => openImCall(emulator.url, path, body, headers) }
}

t.test('get_users_info answers sdkws.UserInfo with createTime in milliseconds, on any valid token', async (t) => {
  for (const mode of ['current', 'legacy'] as const) {
    const { emulator, call } = await withUser(t, mode)
    const before = Date.now()
    const reply = await call('/user/get_users_info', { userIDs: ['ann'] })
    t.equal(reply.json?.errCode, 0, mode)
    const [user] = reply.json?.data.usersInfo
    t.match(user, { userID: 'ann', nickname: 'Ann', faceURL: '', ex: '', appMangerLevel: 0, globalRecvMsgOpt: 0 }, mode)
    t.ok(Math.abs(user.createTime - before) < 5000 && user.createTime > 1e12, `${mode}: milliseconds`)
    const userToken = await openImCall(emulator.url, mode === 'current' ? '/auth/get_user_token' : '/auth/user_token',
      { secret: SECRET, userID: 'ann', platformID: 5 }, mode === 'current' ? { token: await adminToken(emulator) } : {})
    t.equal((await call('/user/get_users_info', { userIDs: ['ann'] }, { token: userToken.json?.data.token })).json?.errCode, 0, `${mode}: no admin check`)
    t.equal((await call('/user/get_users_info', {})).json?.errCode, 1001, `${mode}: missing userIDs`)
  }
})

t.test('an unknown userID: left out from v3.8.2 (null when none is found), 1004 for the whole call before', async (t) => {
  const current = await withUser(t, 'current')
  t.same((await current.call('/user/get_users_info', { userIDs: ['nobody'] })).json?.data, { usersInfo: null })
  t.same((await current.call('/user/get_users_info', { userIDs: ['ann', 'nobody'] })).json?.data.usersInfo.map((user: { userID: string }) => user.userID), ['ann'])
  const legacy = await withUser(t, 'legacy')
  t.match((await legacy.call('/user/get_users_info', { userIDs: ['ann', 'nobody'] })).json, { errCode: 1004, errMsg: 'RecordNotFoundError' })
})

t.test('update_user_info_ex takes StringValue wrappers: absent leaves a field, {"value": ""} clears it', async (t) => {
  for (const mode of ['current', 'legacy'] as const) {
    const { emulator, call } = await withUser(t, mode)
    const set = await call('/user/update_user_info_ex', { userInfo: { userID: 'ann', faceURL: { value: 'https://x.example/a.png' }, ex: { value: '{"a":1}' } } })
    // An empty success carries "data": null up to v3.8.0.
    t.same(set.json, { errCode: 0, errMsg: '', errDlt: '', ...(mode === 'legacy' && { data: null }) }, mode)
    t.match(emulator.users.get('ann'), { nickname: 'Ann', faceURL: 'https://x.example/a.png', ex: '{"a":1}' })
    await call('/user/update_user_info_ex', { userInfo: { userID: 'ann', nickname: { value: 'Annie' }, faceURL: { value: '' } } })
    t.match(emulator.users.get('ann'), { nickname: 'Annie', faceURL: '', ex: '{"a":1}' }, mode)
    const plain = await call('/user/update_user_info_ex', { userInfo: { userID: 'ann', nickname: 'Plain' } })
    t.equal(plain.json?.errCode, mode === 'current' ? 1001 : 500, `${mode}: a plain string does not decode into StringValue`)
    t.equal(emulator.users.get('ann')?.nickname, 'Annie')
  }
})

t.test('update_user_info_ex: the admin or the user themself; an unknown user is 1004', async (t) => {
  for (const mode of ['current', 'legacy'] as const) {
    const { emulator, call } = await withUser(t, mode)
    t.equal((await call('/user/update_user_info_ex', { userInfo: { userID: 'nobody', nickname: { value: 'N' } } })).json?.errCode, 1004, mode)
    await call('/user/user_register', { secret: SECRET, users: [{ userID: 'bob', nickname: 'Bob' }] })
    const bobToken = (await openImCall(emulator.url, mode === 'current' ? '/auth/get_user_token' : '/auth/user_token',
      { secret: SECRET, userID: 'bob', platformID: 5 }, { token: await adminToken(emulator) })).json?.data.token
    const headers = { token: bobToken }
    t.equal((await call('/user/update_user_info_ex', { userInfo: { userID: 'ann', nickname: { value: 'X' } } }, headers)).json?.errCode, 1002, `${mode}: not for others`)
    t.equal((await call('/user/update_user_info_ex', { userInfo: { userID: 'bob', nickname: { value: 'Bobby' } } }, headers)).json?.errCode, 0, `${mode}: self`)
  }
  const legacy = await withUser(t, 'legacy')
  t.equal((await legacy.call('/user/update_user_info_ex', { userInfo: { userID: 'nobody' } })).json?.errCode, 0, 'v3.7: an update that sets nothing never reaches Mongo')
  const current = await withUser(t, 'current')
  t.equal((await current.call('/user/update_user_info_ex', { userInfo: { userID: 'nobody' } })).json?.errCode, 1004, 'v3.8 loads the user first')
  t.same((await current.call('/user/update_user_info_ex', {})).json, { errCode: 1001, errMsg: 'ArgsError', errDlt: '' }, 'Check(): no text on v3.8.3')
})

t.test('v3.8.0 loads the user before updating: an unknown user is 1004 even when nothing is set', async (t) => {
  // internal/rpc/user/user.go:177 at v3.8.0: GetUserByID before UpdateByMap (v3.7.1 has no such load).
  const emulator = await startOpenIm(t, { mode: 'v3.8.0' })
  const call = async (userInfo: unknown) => (await openImCall(emulator.url, '/user/update_user_info_ex', { userInfo }, { token: await adminToken(emulator) })).json
  t.match(await call({ userID: 'nobody' }), { errCode: 1004, errMsg: 'RecordNotFoundError' })
  t.match(await call({ userID: 'nobody', nickname: { value: 'N' } }), { errCode: 1004 })
})
