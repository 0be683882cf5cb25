import t from 'tap'
import { buildGateway, provision, startOpenIm } from './helper.js'

t.test('OPENIM_REJECTED passes on only the name of OpenIM\'s errMsg, never the detail or stack behind it', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await provision(app, { userID: 'uma', platformID: 5 })
  const cases: Array<[string, string]> = [
    ['ArgsError: json: cannot unmarshal number into Go struct field .checkUserIDs of type string', 'ArgsError'],
    ['ServerInternalError\ngoroutine 1 [running]:\nmain.main()\n\t/go/src/openim/internal/api/user.go:42', 'ServerInternalError'],
    ['RecordNotFoundError: user mongo.ErrNoDocuments\n\t/go/src/openim/pkg/common/storage/user.go:88', 'RecordNotFoundError'],
    [`${'E'.repeat(100)}: detail`, 'E'.repeat(80)],
    ['', '']
  ]
  for (const [errMsg, name] of cases) {
    emulator.injectFault('/user/account_check', { kind: 'errCode', errCode: 1001, errMsg })
    const response = await provision(app, { userID: 'uma', platformID: 5 })
    t.equal(response.statusCode, 502)
    t.match(response.json(), { code: 'OPENIM_REJECTED', openimErrCode: 1001 })
    t.equal(response.json().openimErrMsg, name, JSON.stringify(errMsg).slice(0, 40))
    t.notMatch(response.body, /unmarshal|goroutine|user\.go|mongo|detail/, 'no detail')
  }
})
