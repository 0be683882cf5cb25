import t from 'tap'
import { E2eRefusal, loadE2eSettings } from '../../src/e2e/settings.js'

// The e2e settings alone (no process): what a refused URL says, and what it never repeats.
const base = { E2E_ALLOW_WRITES: '1', OPENIM_SECRET: 'secret', OPENIM_API_URL: 'http://openim:10002' }

t.test('an e2e URL with user:pass@ is refused naming the variable, never repeating the password', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ OPENIM_API_URL: 'http://admin:Sekr3t@openim:10002' }, /OPENIM_API_URL must not carry a user name or password/],
    [{ GATEWAY_URL: 'https://svc:Sekr3t@gateway.example.com', GATEWAY_API_KEY: 'key' }, /GATEWAY_URL must not carry a user name or password/],
    [{ OPENIM_API_URL: 'http://admin:Sekr3t@[::1:10002' }, /OPENIM_API_URL is not a valid URL/]
  ]
  for (const [env, message] of cases) {
    let thrown: unknown
    try {
      loadE2eSettings({ ...base, ...env })
    } catch (error) {
      thrown = error
    }
    t.ok(thrown instanceof E2eRefusal, JSON.stringify(env))
    t.match((thrown as Error).message, message)
    t.notMatch((thrown as Error).message, /Sekr3t/, 'the password is not repeated')
  }
  t.equal(loadE2eSettings(base).OPENIM_API_URL, 'http://openim:10002', 'a plain URL is taken')
})
