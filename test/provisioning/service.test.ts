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
