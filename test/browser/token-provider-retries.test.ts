import t from 'tap'
import { skipWithoutChromium } from './chromium.js'
import { browserForFile, getToken, openTab, setUp, userToken } from './provider-page.js'

// The token provider in Chromium: a 429 with Retry-After is waited out, within bounds.
const browser = await browserForFile(t)

t.test('a 429 with Retry-After is waited out, then the token arrives', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, requests } = await setUp(t, browser, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '2s' })
  const page = await openTab(context, pages.url('app.test'), gateway, 'dan_4', "{ headers: { 'x-request-id': 'from-provider' } }")
  await getToken(page)
  const jwt = await userToken('dan_4')
  // Plain requests use up the caller's budget, then the provider refreshes at once. Should the window roll over
  // in between (a stalled, busy machine), the provider met no 429 and the attempt is made again.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const before = requests.length
    const { answer, waitedMs } = await page.evaluate(async (gateway: string, jwt: string) => {
      const post = () => fetch(`${gateway}/provision`, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: '{"platformID":5}' })
      while ((await post()).status !== 429);
      const started = performance.now()
      const answer = await (globalThis as any).provider.refresh()
      return { answer, waitedMs: performance.now() - started }
    }, gateway, jwt)
    const fromProvider = requests.slice(before).filter((request) => request.id === 'from-provider')
    if (fromProvider[0]?.status !== 429) continue
    t.same(fromProvider.map((request) => request.status), [429, 200], 'refused once, then served')
    const retryAfter = fromProvider[0].retryAfter ?? Number.NaN
    t.ok(retryAfter >= 1 && waitedMs >= retryAfter * 1000, `waited Retry-After (${retryAfter} s) out: ${Math.round(waitedMs)} ms`)
    t.equal(answer.userID, 'dan_4')
    return
  }
  t.fail('the provider never met a 429 in three attempts')
})

t.test('a 429 that outlasts the retries is thrown with its code and Retry-After', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '1 hour' })
  const page = await openTab(context, pages.url('app.test'), gateway, 'eve_5', '{ maxRetries: 1 }')
  await getToken(page)
  const error = await page.evaluate(() => (globalThis as any).provider.refresh().then(() => undefined, (error: any) => ({
    name: error.name, status: error.status, code: error.code, retryAfterSeconds: error.retryAfterSeconds
  })))
  t.match(error, { name: 'GatewayRequestError', status: 429, code: 'RATE_LIMITED' })
  t.ok(error.retryAfterSeconds > 60, 'an hour-long wait is not waited out')
  t.same(statuses, [201, 429], 'no retry when Retry-After is longer than maxRetryWaitMs')
})
