import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import t, { type Test } from 'tap'
import type { Browser, Page } from 'puppeteer-core'
import { builtClientScript } from '../client/built.js'
import { buildGateway, startOpenIm, waitFor } from '../helper.js'
import { hasChromium, launchChromium, pageErrors, skipWithoutChromium, startPageServer } from './chromium.js'

// A page on an allowed origin imports /client.js from the gateway (another origin) and gets tokens with an
// end user's JWT, as a front end would. The gateway, the emulator and the page server run here, on loopback.
const JWT_SECRET = 'a-browser-test-hs256-secret-of-32+-chars'
const ISSUER = 'https://id.example.com/'
const AUDIENCE = 'chat'
const MINT = '/auth/get_user_token'

if (hasChromium) builtClientScript()

const userToken = (sub: string) => new SignJWT({ name: sub }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(JWT_SECRET))

async function setUp (t: Test, env: Record<string, string> = {}) {
  const pages = await startPageServer(t)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, {
    JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: pages.url('app.test'), LOG_LEVEL: 'warn', ...env
  })
  const statuses: number[] = []
  app.addHook('onResponse', async (request, reply) => { if (request.method === 'POST' && request.url === '/provision') statuses.push(reply.statusCode) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const gateway = `http://gateway.test:${(app.server.address() as AddressInfo).port}`
  const browser = await launchChromium(t)
  return { pages, emulator, gateway, browser, statuses }
}

/** A tab on `origin` with a provider for `userID` in `globalThis.provider`. */
async function openTab (browser: Browser, origin: string, gateway: string, userID: string, extra = '{}'): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(origin)
  const jwt = await userToken(userID)
  await page.evaluate(async (gateway: string, jwt: string, extra: string) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    const options = Function(`return ${extra}`)()
    ;(globalThis as any).provider = createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization: () => `Bearer ${jwt}`, ...options })
  }, gateway, jwt, extra)
  return page
}

const getToken = (page: Page) => page.evaluate(() => (globalThis as any).provider.getToken()) as Promise<Record<string, any>>

t.test('a page on an allowed origin gets a token through the provider, and reuses it', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, browser } = await setUp(t)
  const page = await openTab(browser, pages.url('app.test'), gateway, 'alice_1')
  const errors = pageErrors(page)
  const answer = await getToken(page)
  t.match(answer, { userID: 'alice_1', platformID: 5, created: true, token: /\S{20,}/ })
  t.same(await getToken(page), answer, 'held in memory')
  t.equal(emulator.callCount(MINT), 1)
  t.same(errors, [])
})

t.test('two tabs get the same token with at most one mint, at once or one after the other', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, browser, statuses } = await setUp(t)
  const [first, second] = [await openTab(browser, pages.url('app.test'), gateway, 'bob_2'), await openTab(browser, pages.url('app.test'), gateway, 'bob_2')]
  const [a, b] = await Promise.all([getToken(first), getToken(second)])
  t.equal(a.token, b.token)
  t.equal(emulator.callCount(MINT), 1, 'one mint for two tabs asking at once')
  t.same(statuses, [201], 'and one request: the tabs agreed which of them asks the gateway')
  const third = await openTab(browser, pages.url('app.test'), gateway, 'bob_2')
  t.equal((await getToken(third)).token, a.token, 'a tab opened later gets the token from the others')
  t.equal(emulator.callCount(MINT), 1)
  t.same(statuses, [201], 'without a request')
})

t.test('refresh() replaces the token in every tab with one mint; clear() forgets it everywhere', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, browser, statuses } = await setUp(t)
  const [first, second] = [await openTab(browser, pages.url('app.test'), gateway, 'cho_3'), await openTab(browser, pages.url('app.test'), gateway, 'cho_3')]
  const old = await getToken(first)
  t.equal((await getToken(second)).token, old.token)
  emulator.advanceClock(1)
  const [a, b] = await Promise.all([
    first.evaluate(() => (globalThis as any).provider.refresh()), second.evaluate(() => (globalThis as any).provider.refresh())
  ]) as [Record<string, any>, Record<string, any>]
  t.not(a.token, old.token)
  t.equal(a.token, b.token, 'both tabs refreshing at once end up with one new token')
  t.equal(emulator.callCount(MINT), 2)
  t.same(statuses, [201, 200], 'one request per token')
  await first.evaluate(() => (globalThis as any).provider.clear())
  const mints = emulator.callCount(MINT)
  await waitFor(async () => (await getToken(second)).token !== a.token || emulator.callCount(MINT) > mints, 'the other tab to forget the token')
  t.equal(emulator.callCount(MINT), mints + 1, 'after clear() the next getToken() mints')
})

t.test('a 429 with Retry-After is waited out, then the token arrives', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, browser, statuses } = await setUp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '2s' })
  const page = await openTab(browser, pages.url('app.test'), gateway, 'dan_4')
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

t.test('a 429 that outlasts the retries is thrown with its code and Retry-After', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, browser, statuses } = await setUp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '1 hour' })
  const page = await openTab(browser, pages.url('app.test'), gateway, 'eve_5', '{ maxRetries: 1 }')
  await getToken(page)
  const error = await page.evaluate(() => (globalThis as any).provider.refresh().then(() => undefined, (error: any) => ({
    name: error.name, status: error.status, code: error.code, retryAfterSeconds: error.retryAfterSeconds
  })))
  t.match(error, { name: 'GatewayRequestError', status: 429, code: 'RATE_LIMITED' })
  t.ok(error.retryAfterSeconds > 60, 'an hour-long wait is not waited out')
  t.same(statuses, [201, 429], 'no retry when Retry-After is longer than maxRetryWaitMs')
})

t.test('with storage opted in, a reload keeps the token without a request', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, browser } = await setUp(t)
  const page = await openTab(browser, pages.url('app.test'), gateway, 'fay_6', '{ storage: globalThis.sessionStorage }')
  const answer = await getToken(page)
  await page.reload()
  const jwt = await userToken('fay_6')
  const again = await page.evaluate(async (gateway: string, jwt: string) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    return createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization: () => `Bearer ${jwt}`, storage: (globalThis as any).sessionStorage }).getToken()
  }, gateway, jwt)
  t.equal(again.token, answer.token)
  t.equal(emulator.callCount(MINT), 1)
  const withoutStorage = await openTab(browser, pages.url('app.test'), gateway, 'fay_6')
  t.equal(await withoutStorage.evaluate(() => (globalThis as any).sessionStorage.length + (globalThis as any).localStorage.length), 0, 'nothing stored by default')
})

t.test('a page on a disallowed origin can neither import the provider nor call /provision', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, browser, statuses } = await setUp(t)
  const page = await browser.newPage()
  await page.goto(pages.url('evil.test'))
  const jwt = await userToken('gus_7')
  const outcome = await page.evaluate(async (gateway: string, jwt: string) => {
    const imported = await import(`${gateway}/client.js`).then(() => 'imported', (error) => String(error))
    const called = await fetch(`${gateway}/provision`, {
      method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: '{"platformID":5}'
    }).then((response) => `answered ${response.status}`, (error) => String(error))
    return { imported, called }
  }, gateway, jwt)
  t.match(outcome.imported, /TypeError/, 'the module import is blocked')
  t.match(outcome.called, /TypeError: Failed to fetch/, 'the call is blocked')
  t.same(statuses, [], 'the preflight failed, so the POST was never sent')
  t.equal(emulator.callCount(MINT), 0)
})
