import type { Page } from 'puppeteer-core'
import t, { type Test } from 'tap'
import { waitFor } from '../helper.js'
import { skipWithoutChromium } from './chromium.js'
import { MINT, browserForFile, events, failure, getToken, openTab, setUp } from './provider-page.js'
import { startProxy } from './proxy.js'

// The token provider in Chromium when the gateway restarts or a proxy in front of it fails: failed requests are
// tried again after growing waits, and what the page is told comes as events, in order.
const browser = await browserForFile(t)

const ofType = async (page: Page, type: string) => (await events(page)).filter((event) => event.type === type)

/** Each retry's wait lies in the upper half of its doubled ceiling (500 ms, 1 s, 2 s… up to maxRetryWaitMs). */
function assertBackoff (t: Test, retries: Array<Record<string, any>>, maxRetryWaitMs: number) {
  retries.forEach(({ attempt, delayMs }, i) => {
    t.equal(attempt, i + 1, 'retries are numbered in order')
    const ceiling = Math.min(maxRetryWaitMs, 500 * 2 ** i)
    t.ok(delayMs >= ceiling / 2 && delayMs <= ceiling, `retry ${attempt} waits ${delayMs} ms, within [${ceiling / 2}, ${ceiling}]`)
  })
}

t.test('a refresh while the gateway is stopped waits for it to come back, then gets a token', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses, stop, restart } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'amy_1', '{ maxRetries: 20, maxRetryWaitMs: 2000 }')
  await getToken(page)
  await stop()
  await page.evaluate(() => { (globalThis as any).pending = (globalThis as any).provider.refresh() })
  await waitFor(async () => (await ofType(page, 'retry')).length >= 2, 'two failed tries while the gateway is down')
  await restart()
  const answer = await page.evaluate(() => (globalThis as any).pending) as Record<string, any>
  t.equal(answer.userID, 'amy_1')
  const seen = await events(page)
  const retries = seen.filter((event) => event.type === 'retry')
  t.ok(retries.length >= 2 && retries.every((retry) => retry.status === 0), 'every failed try was a network failure (status 0)')
  assertBackoff(t, retries, 2000)
  t.same(seen.filter((event) => event.type !== 'retry').map((event) => event.type), ['token', 'token'], 'no error event')
  t.equal(statuses.length, 2, 'the restarted gateway answered one request')
})

t.test('behind a proxy answering 502, the request is tried again until the gateway behind it answers', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, port, context, statuses } = await setUp(t, browser)
  const proxy = await startProxy(t, port, (post) => post <= 2 ? { status: 502, cors: true } : 'forward')
  const page = await openTab(context, pages.url('app.test'), proxy.url, 'ben_2')
  t.equal((await getToken(page)).userID, 'ben_2')
  t.same(proxy.posts, [502, 502, 'forwarded'])
  t.same(statuses, [201])
  const seen = await events(page)
  t.same(seen.map((event) => `${event.type} ${event.status ?? event.userID}`), ['retry 502', 'retry 502', 'token ben_2'])
  assertBackoff(t, seen.slice(0, 2), 60_000)
  t.equal(emulator.callCount(MINT), 1)
})

t.test('a proxy\'s 502 page without CORS headers is a network failure; after the retries, one error event', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, port, context, statuses } = await setUp(t, browser)
  const proxy = await startProxy(t, port, () => ({ status: 502, cors: false }))
  const page = await openTab(context, pages.url('app.test'), proxy.url, 'cy_3', '{ maxRetries: 3, maxRetryWaitMs: 1000 }')
  t.match(await failure(page, 'getToken'), { name: 'GatewayRequestError', status: 0, code: 'GATEWAY_UNREACHABLE', message: /could not be reached.*Failed to fetch/ })
  t.same(proxy.posts, [502, 502, 502, 502], 'the first try and three retries')
  t.same(statuses, [])
  const seen = await events(page)
  t.same(seen.map((event) => `${event.type} ${event.status}`), ['retry 0', 'retry 0', 'retry 0', 'error 0'])
  assertBackoff(t, seen.slice(0, 3), 1000)
})

t.test('after a refresh that failed, no tab hands out the token OpenIM refused', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, statuses, stop, restart } = await setUp(t, browser)
  const [first, second] = [await openTab(context, pages.url('app.test'), gateway, 'dot_4', '{ maxRetries: 0 }'), await openTab(context, pages.url('app.test'), gateway, 'dot_4')]
  const refused = await getToken(first)
  t.equal((await getToken(second)).token, refused.token)
  // What the SDK reports as 1507 (OpenIM no longer holds the token), while the gateway is restarting.
  emulator.tokens.flush()
  emulator.advanceClock(1)
  await stop()
  t.match(await failure(first, 'refresh'), { status: 0, code: 'GATEWAY_UNREACHABLE' })
  await restart()
  const fresh = await getToken(first)
  t.not(fresh.token, refused.token, 'not from the other tab')
  t.equal((await getToken(second)).token, fresh.token, 'the other tab dropped it too, and takes the new one')
  t.same(statuses, [201, 200], 'one request for the new token (the user exists by now)')
  t.equal(emulator.callCount(MINT), 2)
  t.same((await events(first)).map((event) => event.type), ['token', 'error', 'token'])
})

t.test('the gateway\'s own 503 while OpenIM is unreachable is waited out for its Retry-After, then the token arrives', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, requests } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'gus_7')
  emulator.injectFault('*', { kind: 'drop' })
  t.equal((await getToken(page)).userID, 'gus_7')
  t.same(requests.map(({ status, retryAfter }) => [status, retryAfter]), [[503, 5], [201, undefined]], 'OPENIM_UNAVAILABLE, with Retry-After')
  t.same((await events(page)).map((event) => `${event.type} ${event.delayMs ?? event.userID}`), ['retry 5000', 'token gus_7'], 'waited as told')
})

t.test('a 401 is not tried again: one request, one error event, the error thrown', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'eva_5')
  await page.evaluate(() => { (globalThis as any).jwt = 'not-a-jwt' })
  t.match(await failure(page, 'getToken'), { name: 'GatewayRequestError', status: 401, code: 'UNAUTHENTICATED' })
  t.same(statuses, [401])
  t.same((await events(page)).map((event) => `${event.type} ${event.status}`), ['error 401'])
})
