import t from 'tap'
import { skipWithoutChromium } from './chromium.js'
import { browserForFile, getToken, openTab, setUp } from './provider-page.js'

// The token provider in Chromium: a 429 with Retry-After is waited out, within bounds.
const browser = await browserForFile(t)

t.test('a 429 with Retry-After is waited out, then the token arrives', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '2s' })
  const page = await openTab(context, pages.url('app.test'), gateway, 'dan_4')
  await getToken(page)
  const { answer, waitedMs } = await page.evaluate(async () => {
    const started = performance.now()
    const answer = await (globalThis as any).provider.refresh()
    return { answer, waitedMs: performance.now() - started }
  })
  t.equal(answer.userID, 'dan_4')
  t.same(statuses.slice(0, 3), [201, 429, 200], 'refused once, then served')
  t.ok(waitedMs >= 900, `waited for Retry-After (${Math.round(waitedMs)} ms)`)
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
