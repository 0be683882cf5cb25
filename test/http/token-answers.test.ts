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
    const response = await provision(app, { userID: 'vic', platformID: 5 })
    t.equal(response.statusCode, 502, lifetime)
    t.match(response.json(), { code: 'OPENIM_BAD_RESPONSE', message: /expireTimeSeconds/ }, lifetime)
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
