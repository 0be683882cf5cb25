import t from 'tap'
import { buildGateway, openImCall, provision, startOpenIm } from '../helper.js'

// Coalescing shares a flow only between callers who would get the very same token: one user on one platform.
t.test('concurrent provisions of one user on every platform: each caller gets a live token for its own platform', async (t) => {
  const emulator = await startOpenIm(t, { latencyMs: 5 })
  const { app } = await buildGateway(t, emulator.url)
  const platformIDs = [1, 2, 3, 4, 5, 6, 7, 8, 9]
  const requests = platformIDs.flatMap((platformID) => [platformID, platformID])
  const responses = await Promise.all(requests.map((platformID) => provision(app, { userID: 'rita', platformID })))
  t.equal(emulator.callCount('/auth/get_user_token'), platformIDs.length, 'one mint per platform, shared by its two callers')
  for (const [i, response] of responses.entries()) {
    t.equal(response.json().platformID, requests[i], `caller ${i} answered for its platform`)
    const parsed = await openImCall(emulator.url, '/auth/parse_token', { token: response.json().token })
    t.match(parsed.json, { errCode: 0, data: { userID: 'rita', platformID: requests[i] } }, `caller ${i} holds a live token of its platform`)
  }
})

t.test('a registration refused for another reason (1001) is the caller\'s error, even if the user exists afterwards', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  emulator.injectFault('/user/user_register', { kind: 'errCode', errCode: 1001, afterEffect: true })
  const response = await provision(app, { userID: 'sven', platformID: 5 })
  t.equal(response.statusCode, 502)
  t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 1001 })
  t.equal(emulator.callCount('/user/account_check'), 1, 'only races (1102, 500, 1003) are re-checked')
  t.equal(emulator.callCount('/auth/get_user_token'), 0)
})
