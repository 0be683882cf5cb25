import t from 'tap'
import { skipWithoutChromium } from './chromium.js'
import { MINT, browserForFile, getToken, openTab, setUp, userToken } from './provider-page.js'

// The token provider in Chromium: opt-in storage, and what a page on a disallowed origin cannot do.
const browser = await browserForFile(t)

t.test('with storage opted in, a reload keeps the token without a request', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'fay_6', '{ storage: globalThis.sessionStorage }')
  const answer = await getToken(page)
  await page.reload()
  const jwt = await userToken('fay_6')
  const again = await page.evaluate(async (gateway: string, jwt: string) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    return createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization: () => `Bearer ${jwt}`, storage: (globalThis as any).sessionStorage }).getToken()
  }, gateway, jwt)
  t.equal(again.token, answer.token)
  t.equal(emulator.callCount(MINT), 1)
  const withoutStorage = await openTab(context, pages.url('app.test'), gateway, 'fay_6')
  await getToken(withoutStorage)
  t.equal(await withoutStorage.evaluate(() => (globalThis as any).sessionStorage.length + (globalThis as any).localStorage.length), 0, 'nothing stored by default')
})

t.test('a page on a disallowed origin can neither import the provider nor call /provision', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, statuses } = await setUp(t, browser)
  const page = await context.newPage()
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
