import t from 'tap'
import { buildGateway, provision, startOpenIm } from '../helper.js'

t.test('answers that carry a token are never cached (RFC 6749 §5.1)', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const expected of [201, 200]) {
    const response = await provision(app, { userID: 'uma', platformID: 5 })
    t.equal(response.statusCode, expected)
    t.equal(response.headers['cache-control'], 'no-store')
    t.equal(response.headers.pragma, 'no-cache')
  }
})

t.test('an implausible expireTimeSeconds from OpenIM is 502 OPENIM_BAD_RESPONSE, never a 500 or an expiresAt in the past', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'vic', platformID: 5 })
  for (const lifetime of ['1e308', '-86400', '0.5']) {
    emulator.injectFault('/auth/get_user_token', { kind: 'text', body: `{"errCode":0,"errMsg":"","errDlt":"","data":{"token":"t","expireTimeSeconds":${lifetime}}}` })
    const response = await provision(app, { userID: 'vic', platformID: 5, reuse: false })
    t.equal(response.statusCode, 502, lifetime)
    t.match(response.json(), { code: 'OPENIM_BAD_RESPONSE', message: /expireTimeSeconds/ }, lifetime)
  }
})

t.test('parse_token\'s expiry is an absolute time: one in the past, beyond a century, or not whole is 502 OPENIM_BAD_RESPONSE', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const { token } = (await provision(app, { userID: 'vic', platformID: 5 })).json()
  const now = Math.floor(Date.now() / 1000)
  // 7776000: a lifetime where a date belongs (1970-03-31).
  for (const expiry of ['7776000', String(now - 60), String(now + 101 * 365 * 86400), String(now + 3600.5), '1e308']) {
    emulator.injectFault('/auth/parse_token', { kind: 'text', body: `{"errCode":0,"errMsg":"","errDlt":"","data":{"userID":"vic","platformID":5,"expireTimeSeconds":${expiry}}}` })
    const response = await provision(app, { userID: 'vic', platformID: 5 })
    t.equal(response.statusCode, 502, expiry)
    t.match(response.json(), { code: 'OPENIM_BAD_RESPONSE', message: /parse_token.*expireTimeSeconds|expireTimeSeconds.*parse_token/ }, expiry)
  }
  t.match((await provision(app, { userID: 'vic', platformID: 5 })).json(), { reused: true, token }, 'no verdict on the token: still remembered')
})

t.test('a parse_token answer for another user or platform confirms nothing: the token is forgotten and a new one minted', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'xia', platformID: 5 })
  const expiry = Math.floor(Date.now() / 1000) + 3600
  for (const [userID, platformID] of [['xia_2', 5], ['xia', 4]] as const) {
    emulator.injectFault('/auth/parse_token', { kind: 'text', body: JSON.stringify({ errCode: 0, errMsg: '', errDlt: '', data: { userID, platformID, expireTimeSeconds: expiry } }) })
    emulator.resetCounts()
    const response = await provision(app, { userID: 'xia', platformID: 5 })
    t.match(response.json(), { reused: false }, `${userID} on ${platformID}`)
    t.equal(emulator.callCount('/auth/get_user_token'), 1)
  }
})

t.test('openimErrMsg is the errCode\'s name from the gateway\'s own table, never OpenIM\'s free text', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const rows = [
    [1001, 'ArgsError: userID is legal: mongo at 10.0.3.7:27017\ngoroutine 1 [running]', 'ArgsError'],
    [1102, 'RegisteredAlreadyError', 'RegisteredAlreadyError'],
    [1002, 'DatabaseError: ping 10.0.3.7 failed', 'NoPermissionError'],
    [4242, 'something internal at 10.0.3.7', 'UnknownError']
  ] as const
  for (const [errCode, errMsg, name] of rows) {
    emulator.injectFault('/user/account_check', { kind: 'errCode', errCode, errMsg })
    const response = await provision(app, { userID: 'wes', platformID: 5 })
    t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: errCode, openimErrMsg: name }, String(errCode))
    t.notMatch(response.body, /10\.0\.3\.7|goroutine|mongo/, 'nothing of OpenIM\'s text')
  }
})
