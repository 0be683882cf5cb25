import t from 'tap'
import { waitFor } from '../helper.js'
import { pageErrors, skipWithoutChromium } from './chromium.js'
import { MINT, browserForFile, getToken, openTab, setUp } from './provider-page.js'

// The token provider in Chromium: one token per user and platform, shared by the tabs of an origin.
const browser = await browserForFile(t)

t.test('a page on an allowed origin gets a token through the provider, and reuses it', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'alice_1')
  const errors = pageErrors(page)
  const answer = await getToken(page)
  t.match(answer, { userID: 'alice_1', platformID: 5, created: true, token: /\S{20,}/ })
  t.same(await getToken(page), answer, 'held in memory')
  t.equal(emulator.callCount(MINT), 1)
  t.same(errors, [])
})

t.test('two tabs get the same token with at most one mint, at once or one after the other', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, statuses } = await setUp(t, browser)
  const [first, second] = [await openTab(context, pages.url('app.test'), gateway, 'bob_2'), await openTab(context, pages.url('app.test'), gateway, 'bob_2')]
  const [a, b] = await Promise.all([getToken(first), getToken(second)])
  t.equal(a.token, b.token)
  t.equal(emulator.callCount(MINT), 1, 'one mint for two tabs asking at once')
  t.same(statuses, [201], 'and one request: the tabs agreed which of them asks the gateway')
  const third = await openTab(context, pages.url('app.test'), gateway, 'bob_2')
  t.equal((await getToken(third)).token, a.token, 'a tab opened later gets the token from the others')
  t.equal(emulator.callCount(MINT), 1)
  t.same(statuses, [201], 'without a request')
})

t.test('refresh() replaces a token OpenIM lost in every tab with one mint; clear() forgets it everywhere', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, statuses } = await setUp(t, browser)
  const [first, second] = [await openTab(context, pages.url('app.test'), gateway, 'cho_3'), await openTab(context, pages.url('app.test'), gateway, 'cho_3')]
  const old = await getToken(first)
  t.equal((await getToken(second)).token, old.token)
  // What the SDK reports as 1507 (OpenIM no longer holds the token), the case refresh() is for.
  emulator.tokens.flush()
  emulator.advanceClock(1)
  const [a, b] = await Promise.all([
    first.evaluate(() => (globalThis as any).provider.refresh()), second.evaluate(() => (globalThis as any).provider.refresh())
  ]) as [Record<string, any>, Record<string, any>]
  t.not(a.token, old.token)
  t.equal(a.token, b.token, 'both tabs refreshing at once end up with one new token')
  t.equal(emulator.callCount(MINT), 2)
  t.same(statuses, [201, 200], 'one request per token')
  await first.evaluate(() => (globalThis as any).provider.clear())
  await waitFor(async () => statuses.length === 3 || (await getToken(second)).token !== a.token, 'the other tab to forget the token')
  t.same(statuses, [201, 200, 200], 'after clear() the next getToken() asks the gateway again')
  t.match(await getToken(second), { token: a.token, reused: true }, 'which hands back the live token it remembers')
  t.equal(emulator.callCount(MINT), 2, 'without minting (so without logging anyone out)')
})
