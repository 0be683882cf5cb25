import { createHash } from 'node:crypto'
import t from 'tap'
import { waitFor } from '../helper.js'
import { skipWithoutChromium } from './chromium.js'
import {
  MINT, bearerIdentity, browserForFile, events, failure, getToken, openTab, setUp, signIn, storageKeys, tokenWith, useBearer
} from './provider-page.js'

// The token provider in Chromium: a token belongs to the person it was fetched for, in tabs and in storage.
const browser = await browserForFile(t)
const LOCAL = '{ storage: globalThis.localStorage }'
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
/** The storage key of a person's token: a digest of who they are, never their name. */
const keyOf = (gateway: string, identity: string) => `openim-gateway-token:v2:${gateway}/provision:5:${sha256(identity)}`

t.test('two people signed in in two tabs of one origin each get their own token, shared only with their own tabs', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, emulator, gateway, context, statuses } = await setUp(t, browser)
  const alice = await openTab(context, pages.url('app.test'), gateway, 'alice_1')
  const bob = await openTab(context, pages.url('app.test'), gateway, 'bob_2')
  const alices = await getToken(alice)
  t.equal(alices.userID, 'alice_1')
  const bobs = await getToken(bob)
  t.equal(bobs.userID, 'bob_2', 'not the token the other tab holds')
  t.not(bobs.token, alices.token)
  t.same(statuses, [201, 201], 'one request each')
  const aliceAgain = await openTab(context, pages.url('app.test'), gateway, 'alice_1')
  t.equal((await getToken(aliceAgain)).token, alices.token, 'a tab signed in as the same person gets the token from the other')
  t.same(statuses, [201, 201], 'without a request')
  t.equal(emulator.callCount(MINT), 2)
})

t.test('storage left by the previous person is neither handed to the next one nor kept', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser)
  const alice = await openTab(context, pages.url('app.test'), gateway, 'ann_3', LOCAL)
  await getToken(alice)
  t.same(await storageKeys(alice), [keyOf(gateway, bearerIdentity('ann_3'))], 'kept under a digest of the ID token\'s iss and sub')
  // Ann's session ends without clear() (the ID token expired, the tab was closed); Ben signs in on the same browser.
  await alice.close()
  const ben = await openTab(context, pages.url('app.test'), gateway, 'ben_4', LOCAL)
  t.equal((await getToken(ben)).userID, 'ben_4')
  t.same(statuses, [201, 201])
  t.same(await storageKeys(ben), [keyOf(gateway, bearerIdentity('ben_4'))], 'Ann\'s entry is gone')
})

t.test('a token stored by the previous version (keyed by gateway and platform only) is dropped on load, unused', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser)
  const first = await openTab(context, pages.url('app.test'), gateway, 'cat_5')
  const answer = await getToken(first)
  const legacyKey = `openim-gateway-token:${gateway}/provision:5`
  await first.evaluate((key: string, value: string) => (globalThis as any).localStorage.setItem(key, value), legacyKey, JSON.stringify({ ...answer, token: 'left-by-the-old-version' }))
  const next = await openTab(context, pages.url('app.test'), gateway, 'cat_5', LOCAL)
  t.equal(await next.evaluate((key: string) => (globalThis as any).localStorage.getItem(key), legacyKey), null, 'removed when the provider is created')
  t.equal((await getToken(next)).token, answer.token)
  t.same(statuses, [201], 'from the tab holding it')
})

t.test('a new ID token for the same person keeps the token; another person\'s forgets it in every tab and in storage', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser)
  const [first, second] = [await openTab(context, pages.url('app.test'), gateway, 'dee_6', LOCAL), await openTab(context, pages.url('app.test'), gateway, 'dee_6', LOCAL)]
  const dees = await getToken(first)
  t.equal((await getToken(second)).token, dees.token)
  // The identity provider's hourly refresh: another ID token (other iat and exp), the same iss and sub.
  await signIn(first, 'dee_6', '20m')
  t.equal((await getToken(first)).token, dees.token, 'the same token')
  t.same(statuses, [201], 'without a request')
  await signIn(first, 'eli_7')
  const elis = await getToken(first)
  t.equal(elis.userID, 'eli_7')
  t.same(await storageKeys(first), [keyOf(gateway, bearerIdentity('eli_7'))], 'Dee\'s entry is gone')
  t.same(statuses, [201, 201])
  // The other tab still signed in as Dee was told to forget Dee's token: it asks the gateway again.
  t.equal((await getToken(second)).token, dees.token, 'which hands back the live token it remembers')
  t.same(statuses, [201, 201, 200])
  t.same((await events(first)).map((event) => `${event.type} ${event.userID}`), ['token dee_6', 'token eli_7'], 'one token event per token in use')
})

t.test('when nothing names the person, nothing is shared between tabs or stored; an identity option names them', async (t) => {
  if (skipWithoutChromium(t)) return
  // The gateway reads the userID from a claim of its own; the ID tokens carry no subject.
  const { pages, gateway, context, statuses } = await setUp(t, browser, { JWT_USER_ID_CLAIM: 'uid' })
  const jwt = await tokenWith({ uid: 'fay_8' })
  const tabs = [await openTab(context, pages.url('app.test'), gateway, 'fay_8', LOCAL), await openTab(context, pages.url('app.test'), gateway, 'fay_8', LOCAL)]
  for (const tab of tabs) await useBearer(tab, jwt)
  for (const tab of tabs) t.equal((await getToken(tab)).userID, 'fay_8')
  t.same(statuses, [201, 200], 'each tab asked the gateway')
  t.same(await storageKeys(tabs[0]!), [], 'and nothing was stored')

  const named = '{ storage: globalThis.localStorage, identity: async () => "app-user-fay" }'
  const withIdentity = [await openTab(context, pages.url('app.test'), gateway, 'fay_8', named), await openTab(context, pages.url('app.test'), gateway, 'fay_8', named)]
  for (const tab of withIdentity) await useBearer(tab, jwt)
  const [a, b] = [await getToken(withIdentity[0]!), await getToken(withIdentity[1]!)]
  t.equal(a.token, b.token)
  t.same(statuses, [201, 200, 200], 'one request for the two tabs that name the person')
  t.same(await storageKeys(withIdentity[0]!), [keyOf(gateway, 'app-user-fay')])
})

t.test('the storage key is the SHA-256 of the identity, whatever its length and characters', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'gil_9')
  // One block, the padding boundaries (55, 56 and 64 bytes), several blocks, and characters of 2 to 4 UTF-8 bytes.
  const identities = ['', 'a', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'é漢😀'.repeat(40), JSON.stringify(['https://id.example.com/', 'gil_9'])]
  const keys = await page.evaluate(async (gateway: string, identities: string[]) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    const keys: string[][] = []
    for (const name of identities) {
      const written: string[] = []
      const storage = { getItem: () => null, setItem: (key: string) => { written.push(key) }, removeItem: () => {} }
      const getAuthorization = () => `Bearer ${(globalThis as any).jwt}`
      await createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization, identity: () => name, storage }).getToken()
      keys.push(written)
    }
    return keys
  }, gateway, identities)
  // The bearer JWT's iss and sub are folded into the identity the page names.
  const folded = (name: string) => JSON.stringify([name, ...JSON.parse(bearerIdentity('gil_9'))])
  t.same(keys, identities.map((name) => name === '' ? [] : [keyOf(gateway, folded(name))]), 'an empty identity names nobody: nothing stored')
})

t.test('with an identity option, the bearer JWT\'s iss and sub are part of the identity: an identity() that lags behind a ' +
  'sign-in never hands the previous person\'s token', async (t) => {
  if (skipWithoutChromium(t)) return
  const { pages, gateway, context, statuses } = await setUp(t, browser)
  const page = await openTab(context, pages.url('app.test'), gateway, 'jo_1', '{ storage: globalThis.localStorage, identity: () => "app-session" }')
  const jos = await getToken(page)
  t.equal(jos.userID, 'jo_1')
  t.same(await storageKeys(page), [keyOf(gateway, JSON.stringify(['app-session', ...JSON.parse(bearerIdentity('jo_1'))]))])
  await signIn(page, 'kim_2')
  const kims = await getToken(page)
  t.equal(kims.userID, 'kim_2', 'not the token held for the previous bearer')
  t.same(statuses, [201, 201])
  t.same(await storageKeys(page), [keyOf(gateway, JSON.stringify(['app-session', ...JSON.parse(bearerIdentity('kim_2'))]))], 'Jo\'s entry is gone')
})

t.test('a token for another userID than the identity was given is refused: an error event, never handed out, until clear()', async (t) => {
  if (skipWithoutChromium(t)) return
  // The page names the person itself and its ID tokens carry no subject: only the pin tells the two users apart.
  const { pages, gateway, context, statuses } = await setUp(t, browser, { JWT_USER_ID_CLAIM: 'uid' })
  const options = '{ identity: () => "app-user-hal" }'
  const [page, other] = [await openTab(context, pages.url('app.test'), gateway, 'hal_1', options), await openTab(context, pages.url('app.test'), gateway, 'hal_1', options)]
  for (const tab of [page, other]) await useBearer(tab, await tokenWith({ uid: 'hal_1' }))
  const hals = await getToken(page)
  t.equal(hals.userID, 'hal_1')
  // The app's identity() still says Hal while the gateway now maps the page's ID token to Ivy.
  await useBearer(page, await tokenWith({ uid: 'ivy_2' }))
  t.match(await failure(page, 'refresh'), { name: 'GatewayRequestError', code: 'USER_ID_CHANGED', status: 201, message: /ivy_2.*hal_1/ })
  t.match(await failure(page, 'getToken'), { code: 'USER_ID_CHANGED' }, 'asked again, refused again')
  t.same(statuses, [201, 201, 200], 'the gateway answered Ivy\'s token twice')
  // Another tab of the same identity offers a token for someone else: ignored, with an error event.
  await useBearer(page, await tokenWith({ uid: 'hal_1' }))
  t.equal((await getToken(page)).userID, 'hal_1')
  // The channel is named like the storage entry: the prefix and the identity's digest.
  await other.evaluate((name: string, hal: Record<string, any>) => {
    const channel = new BroadcastChannel(name)
    channel.postMessage({ type: 'token', from: 'rogue', answer: { ...hal, userID: 'zed_3', token: 'zeds-token' } })
    channel.close()
  }, keyOf(gateway, 'app-user-hal'), hals)
  const errors = async () => (await events(page)).filter((event) => event.type === 'error')
  await waitFor(async () => (await errors()).length === 3, 'the tab\'s offer refused')
  const seen = await events(page)
  t.notOk(seen.some((event) => event.type === 'token' && event.userID !== 'hal_1'), 'no token event for anyone but Hal')
  t.same(seen.filter((event) => event.type === 'error').map((event) => event.code), ['USER_ID_CHANGED', 'USER_ID_CHANGED', 'USER_ID_CHANGED'],
    'the gateway\'s two answers and the tab\'s offer')
  t.equal((await getToken(page)).userID, 'hal_1', 'still Hal\'s token')
  // Signing out resets the pin.
  await page.evaluate(() => (globalThis as any).provider.clear())
  await useBearer(page, await tokenWith({ uid: 'ivy_2' }))
  t.equal((await getToken(page)).userID, 'ivy_2')
})
