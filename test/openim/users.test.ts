import t, { type Test } from 'tap'
import { OpenImClient } from '../../src/openim/client.js'
import { OpenImError } from '../../src/openim/errors.js'
import { OpenImTransport } from '../../src/openim/transport.js'
import { ADMIN, SECRET, startOpenIm } from '../helper.js'

const context = { operationID: 'op-users' }

async function connected (t: Test, mode: 'current' | 'legacy') {
  const emulator = await startOpenIm(t, { mode })
  const transport = new OpenImTransport({ baseUrl: emulator.url, timeoutMs: 30_000, connections: 2, pipelining: 1, keepAliveTimeoutMs: 4000, maxPendingCalls: 16 })
  const openim = new OpenImClient({ transport, secret: SECRET, adminUserID: ADMIN, apiMode: 'auto' })
  t.teardown(() => openim.close())
  await openim.registerUsers([{ userID: 'ann', nickname: 'Ann', faceURL: 'https://x.example/a.png' }], context)
  return { emulator, openim }
}

for (const mode of ['current', 'legacy'] as const) {
  t.test(`${mode}: userInfo reads a profile, and is undefined for a user OpenIM does not know`, async (t) => {
    const { openim } = await connected(t, mode)
    t.match(await openim.userInfo('ann', context), { userID: 'ann', nickname: 'Ann', faceURL: 'https://x.example/a.png', ex: '' })
    t.equal(await openim.userInfo('nobody', context), undefined)
  })

  t.test(`${mode}: updateUserInfo sends only the fields given, as StringValue wrappers; false for an unknown user`, async (t) => {
    const { emulator, openim } = await connected(t, mode)
    t.equal(await openim.updateUserInfo('ann', { nickname: 'Annie', faceURL: '' }, context), true)
    t.match(emulator.users.get('ann'), { nickname: 'Annie', faceURL: '' })
    const sent = JSON.parse(emulator.recentCalls.findLast((call) => call.path === '/user/update_user_info_ex')!.body)
    t.same(sent, { userInfo: { userID: 'ann', nickname: { value: 'Annie' }, faceURL: { value: '' } } })
    t.equal(await openim.updateUserInfo('nobody', { nickname: 'N' }, context), false)
  })
}

t.test('an unexpected get_users_info answer is a bad response, other errCodes stay errors', async (t) => {
  const { emulator, openim } = await connected(t, 'current')
  emulator.injectFault('/user/get_users_info', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":"","data":{"usersInfo":[{"userID":"ann"}]}}' })
  t.match(await openim.userInfo('ann', context).catch((error) => error), { kind: 'bad_response' })
  emulator.injectFault('/user/get_users_info', { kind: 'text', body: '{"errCode":0,"errMsg":"","errDlt":"","data":{"usersInfo":{}}}' })
  t.match(await openim.userInfo('ann', context).catch((error) => error), { kind: 'bad_response' })
  emulator.injectFault('/user/update_user_info_ex', { kind: 'errCode', errCode: 1002 })
  const refused = await openim.updateUserInfo('ann', { ex: 'x' }, context).catch((error) => error)
  t.ok(refused instanceof OpenImError && refused.errCode === 1002)
})
