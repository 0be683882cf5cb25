import t from 'tap'
import { buildGateway, provision, startOpenIm } from './helper.js'

t.test('OPENIM_REJECTED names the errCode from the gateway\'s own table, whatever OpenIM\'s errMsg holds: never its detail or stack', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  // The user exists, but on platform 1: no token is remembered for platform 5, so each provision checks the account.
  await provision(app, { userID: 'uma', platformID: 1 })
  const cases = [
    'ArgsError: json: cannot unmarshal number into Go struct field .checkUserIDs of type string',
    'ServerInternalError\ngoroutine 1 [running]:\nmain.main()\n\t/go/src/openim/internal/api/user.go:42',
    'RecordNotFoundError: user mongo.ErrNoDocuments\n\t/go/src/openim/pkg/common/storage/user.go:88',
    `${'E'.repeat(100)}: detail`,
    ''
  ]
  for (const errMsg of cases) {
    emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1001, errMsg })
    const response = await provision(app, { userID: 'uma', platformID: 5 })
    t.equal(response.statusCode, 502)
    t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 1001 })
    t.equal(response.json().openimErrMsg, 'ArgsError', JSON.stringify(errMsg).slice(0, 40))
    t.notMatch(response.body, /unmarshal|goroutine|user\.go|mongo|detail/, 'no detail')
  }
})
