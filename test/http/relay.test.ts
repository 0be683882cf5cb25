import t from 'tap'
import { SERVICE_KEY, buildGateway, startOpenIm } from '../helper.js'

// request.relay is how a route that only relays an OpenIM read calls the OpenIM client: with the request's call
// context, answering by its deadline whatever OpenIM does. A route of the test's own, beside the real ones.

async function gatewayWithRelayRoute (t: Parameters<typeof startOpenIm>[0], env: Record<string, string> = {}) {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, env)
  app.get('/relayed/:userID', async (request) =>
    request.relay(async (context) => app.openim.userInfo((request.params as { userID: string }).userID, context)))
  return { emulator, app }
}

t.test('a relayed read answers what the OpenIM client returns', async (t) => {
  const { emulator, app } = await gatewayWithRelayRoute(t)
  emulator.addUser('ann', { nickname: 'Ann' })
  const response = await app.inject({ url: '/relayed/ann', headers: { 'x-api-key': SERVICE_KEY } })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { userID: 'ann', nickname: 'Ann' })
})

t.test('a relayed read OpenIM never answers is 504 OPENIM_TIMEOUT at REQUEST_DEADLINE_MS, before OpenIM\'s own timeout', async (t) => {
  // The deadline counts from the request's arrival, OpenIM's timeout from when the call is sent: the deadline is first.
  const { emulator, app } = await gatewayWithRelayRoute(t, { OPENIM_TIMEOUT_MS: '1000', REQUEST_DEADLINE_MS: '1000' })
  emulator.injectFault('/user/get_users_info', { kind: 'hang' })
  const response = await app.inject({ url: '/relayed/ann', headers: { 'x-api-key': SERVICE_KEY } })
  t.equal(response.statusCode, 504)
  t.match(response.json(), { code: 'OPENIM_TIMEOUT', message: /REQUEST_DEADLINE_MS/ })
  t.equal(emulator.callCount('/user/get_users_info'), 1, 'the call was sent, and is still unanswered')
})
