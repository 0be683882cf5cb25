import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import type { Test } from 'tap'
import type { Browser, Page } from 'puppeteer-core'
import { builtClientScript } from '../client/built.js'
import { buildGateway, startOpenIm } from '../helper.js'
import { hasChromium, launchChromium, startPageServer } from './chromium.js'

// A page on an allowed origin imports /client.js from the gateway (another origin) and gets tokens with an
// end user's JWT, as a front end would. The gateway, the emulator and the page server run here, on loopback.
const JWT_SECRET = 'a-browser-test-hs256-secret-of-32+-chars'
const ISSUER = 'https://id.example.com/'
const AUDIENCE = 'chat'
export const MINT = '/auth/get_user_token'

/** An end user's ID token; `lifetime` differs between two tokens of one user as an identity provider's refresh would. */
export const userToken = (sub: string, lifetime = '10m') => new SignJWT({ name: sub }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime(lifetime).sign(new TextEncoder().encode(JWT_SECRET))

/** An ID token with exactly `claims` (and iss, aud, iat, exp), e.g. one without a subject. */
export const tokenWith = (claims: Record<string, string>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' })
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(JWT_SECRET))

/** What the provider derives its identity from when the page names none: the ID token's issuer and subject. */
export const bearerIdentity = (sub: string) => JSON.stringify([ISSUER, sub])

/** One Chromium for the whole test file (each test gets its own browser context), when it is installed. */
export async function browserForFile (t: Test): Promise<Browser | undefined> {
  if (!hasChromium) return undefined
  builtClientScript()
  return launchChromium(t)
}

/**
 * The emulator, a gateway accepting the test's JWTs from the app.test origin, and a fresh browser context (its
 * own storage and BroadcastChannels). `statuses` lists the gateway's answers to POST /provision, `requests`
 * the same with the request id and Retry-After.
 */
export async function setUp (t: Test, browser: Browser | undefined, env: Record<string, string> = {}) {
  if (browser === undefined) throw new Error('no browser: call skipWithoutChromium first')
  const pages = await startPageServer(t)
  const emulator = await startOpenIm(t)
  const statuses: number[] = []
  const requests: Array<{ id: string, status: number, retryAfter?: number }> = []
  const settings = { JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: pages.url('app.test'), LOG_LEVEL: 'warn', ...env }

  /** A gateway on `port` (0: any free one) recording its answers to POST /provision in `statuses` and `requests`. */
  async function startGateway (port: number) {
    const { app } = await buildGateway(t, emulator.url, settings)
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'POST' || request.url !== '/provision') return
      statuses.push(reply.statusCode)
      const retryAfter = reply.getHeader('retry-after')
      requests.push({ id: request.id, status: reply.statusCode, ...(retryAfter !== undefined && { retryAfter: Number(retryAfter) }) })
    })
    await app.listen({ host: '127.0.0.1', port })
    return app
  }

  let app = await startGateway(0)
  const port = (app.server.address() as AddressInfo).port
  const gateway = `http://gateway.test:${port}`
  const context = await browser.createBrowserContext()
  t.teardown(() => context.close())
  return {
    pages,
    emulator,
    gateway,
    port,
    context,
    statuses,
    requests,
    /** Stops the gateway: its port refuses connections until restart(). */
    stop: () => app.close(),
    /** A new gateway process-alike on the same port, as after a deploy or a crash. */
    restart: async () => { app = await startGateway(port) }
  }
}

/**
 * A tab on `origin` with a provider in `globalThis.provider` (`extra`: more options, as code). The page signs in as
 * `userID`: its Authorization is `Bearer ${globalThis.jwt}`, which signIn() replaces. The provider's events are
 * recorded in order in `globalThis.events` (see `events`).
 */
export async function openTab (context: { newPage (): Promise<Page> }, origin: string, gateway: string, userID: string, extra = '{}'): Promise<Page> {
  const page = await context.newPage()
  await page.goto(origin)
  const jwt = await userToken(userID)
  await page.evaluate(async (gateway: string, jwt: string, extra: string) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    // eslint-disable-next-line no-new-func -- the options arrive as source text: functions cannot cross into the page
    const options = Function(`return ${extra}`)()
    const page = globalThis as any
    page.jwt = jwt
    page.events = []
    // Tabs wait longer for each other than the default 150 ms: a starved test machine may be that slow.
    page.provider = createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization: () => `Bearer ${page.jwt}`, tabWaitMs: 1000, ...options })
    page.provider.addEventListener?.('token', ({ detail }: any) => page.events.push({ type: 'token', userID: detail.userID, token: detail.token }))
    page.provider.addEventListener?.('retry', ({ detail }: any) => page.events.push({ type: 'retry', attempt: detail.attempt, delayMs: detail.delayMs, status: detail.error.status }))
    page.provider.addEventListener?.('error', ({ detail }: any) => page.events.push({ type: 'error', status: detail.status, code: detail.code }))
  }, gateway, jwt, extra)
  return page
}

/** The page's Authorization from now on is `Bearer ${jwt}`. */
export const useBearer = (page: Page, jwt: string) => page.evaluate((jwt: string) => { (globalThis as any).jwt = jwt }, jwt)

/** The page signs in as `userID` (an ID token of its own, another one on every call). */
export const signIn = async (page: Page, userID: string, lifetime = '10m') => useBearer(page, await userToken(userID, lifetime))

export const getToken = (page: Page) => page.evaluate(() => (globalThis as any).provider.getToken()) as Promise<Record<string, any>>
export const refresh = (page: Page) => page.evaluate(() => (globalThis as any).provider.refresh()) as Promise<Record<string, any>>

/** What a call of the provider rejected with, or 'resolved'. */
export const failure = (page: Page, method: 'getToken' | 'refresh') => page.evaluate((method: string) => (globalThis as any).provider[method]()
  .then(() => 'resolved', (error: any) => ({ name: error.name, status: error.status, code: error.code, message: error.message })), method)

/** The provider's events so far, in order: token (userID, token), retry (attempt, delayMs, status), error (status, code). */
export const events = (page: Page) => page.evaluate(() => (globalThis as any).events) as Promise<Array<Record<string, any>>>

/** The keys of the page's localStorage and sessionStorage. */
export const storageKeys = (page: Page) => page.evaluate(() => {
  const stores = [(globalThis as any).localStorage, (globalThis as any).sessionStorage]
  return stores.flatMap((storage) => Array.from({ length: storage.length as number }, (_, i) => storage.key(i) as string))
}) as Promise<string[]>
