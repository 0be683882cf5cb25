import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildGateway, startOpenIm } from '../helper.js'
import { launchChromium, pageErrors, skipWithoutChromium } from './chromium.js'

t.test('Swagger UI renders its operations when reached over plain http by a host name that is not loopback', async (t) => {
  if (skipWithoutChromium(t)) return
  t.setTimeout(120_000)
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  const errors = pageErrors(page)
  const failed: string[] = []
  page.on('requestfailed', (request) => failed.push(`${request.url()} ${request.failure()?.errorText}`))

  await page.goto(`http://gateway.test:${port}/docs`, { waitUntil: 'load', timeout: 30_000 })
  // Operation blocks exist only once the bundle ran and rendered the fetched document.
  await page.waitForSelector('#operations-provisioning-provision', { visible: true, timeout: 30_000 })
  const operations = await page.$$eval('.opblock .opblock-summary-path', (paths) => paths.map((path) => path.textContent?.trim()))
  const documented = Object.keys((await app.inject({ url: '/docs/json' })).json().paths)
  t.same([...new Set(operations)].sort(), documented.sort(), 'every path of the document it serves')
  t.equal(new URL(page.url()).protocol, 'http:', 'stayed on plain http')
  t.same(failed, [], 'every asset loaded')
  t.same(errors.filter((error) => /content security policy/i.test(error)), [], 'no CSP console errors')
  // Chrome reports that it ignores helmet's Cross-Origin-Opener-Policy on a plain-http origin; nothing else.
  t.same(errors.filter((error) => !/Cross-Origin-Opener-Policy header has been ignored/.test(error)), [], 'no other console errors')
})
