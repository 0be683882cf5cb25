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

export const userToken = (sub: string) => new SignJWT({ name: sub }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(JWT_SECRET))

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
  const { app } = await buildGateway(t, emulator.url, {
    JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: pages.url('app.test'), LOG_LEVEL: 'warn', ...env
  })
  const statuses: number[] = []
  const requests: Array<{ id: string, status: number, retryAfter?: number }> = []
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || request.url !== '/provision') return
    statuses.push(reply.statusCode)
    const retryAfter = reply.getHeader('retry-after')
    requests.push({ id: request.id, status: reply.statusCode, ...(retryAfter !== undefined && { retryAfter: Number(retryAfter) }) })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const gateway = `http://gateway.test:${(app.server.address() as AddressInfo).port}`
  const context = await browser.createBrowserContext()
  t.teardown(() => context.close())
  return { pages, emulator, gateway, context, statuses, requests }
}

/** A tab on `origin` with a provider for `userID` in `globalThis.provider` (`extra`: more options, as code). */
export async function openTab (context: { newPage (): Promise<Page> }, origin: string, gateway: string, userID: string, extra = '{}'): Promise<Page> {
  const page = await context.newPage()
  await page.goto(origin)
  const jwt = await userToken(userID)
  await page.evaluate(async (gateway: string, jwt: string, extra: string) => {
    const { createTokenProvider } = await import(`${gateway}/client.js`)
    // eslint-disable-next-line no-new-func -- the options arrive as source text: functions cannot cross into the page
    const options = Function(`return ${extra}`)()
    // Tabs wait longer for each other than the default 150 ms: a starved test machine may be that slow.
    ;(globalThis as any).provider = createTokenProvider({ baseUrl: gateway, platformID: 5, getAuthorization: () => `Bearer ${jwt}`, tabWaitMs: 1000, ...options })
  }, gateway, jwt, extra)
  return page
}

export const getToken = (page: Page) => page.evaluate(() => (globalThis as any).provider.getToken()) as Promise<Record<string, any>>
