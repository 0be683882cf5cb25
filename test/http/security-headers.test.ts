import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import helmet from 'helmet'
import t from 'tap'
import { buildGateway, provision, startOpenIm } from '../helper.js'

/** What helmet itself sets on a real response with the gateway's options (no upgrade-insecure-requests). */
function helmetHeaders (): Record<string, string> {
  const response = new ServerResponse(new IncomingMessage(new Socket()))
  helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })(response.req, response, () => {})
  return Object.fromEntries(Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)]))
}

t.test('every answer carries helmet\'s security headers, computed once: successes, refusals, errors and unknown routes', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const expected = helmetHeaders()
  t.ok(Object.keys(expected).length >= 10, 'helmet sets its headers')
  t.notMatch(expected['content-security-policy'], /upgrade-insecure-requests/)
  const answers = {
    'a health probe': await app.inject({ url: '/healthz' }),
    'a provision': await provision(app, { userID: 'hana', platformID: 5 }),
    'a refused authentication': await provision(app, { userID: 'hana', platformID: 5 }, { 'x-api-key': 'a-wrong-key-0123456789' }),
    'an invalid body': await provision(app, { userID: 'hana', platformID: 'five' }),
    'an unknown route': await app.inject({ url: '/nowhere' })
  }
  for (const [what, answer] of Object.entries(answers)) t.match(answer.headers, expected, what)
  t.equal(answers['a provision'].statusCode, 201)
  t.equal(answers['a refused authentication'].statusCode, 401)
  const docs = await app.inject({ url: '/docs/static/index.html' })
  t.match(docs.headers['content-security-policy'], /style-src 'self' 'sha256-/, 'Swagger UI\'s pages adjust the CSP')
})
