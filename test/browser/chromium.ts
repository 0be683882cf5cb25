import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'

interface TestLike { teardown (fn: () => unknown): void, skip (...args: any[]): unknown }

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

/** Says loudly why browser tests are skipped; under CI a missing Chromium fails instead (.ci/run installs it). */
export function skipWithoutChromium (t: TestLike): boolean {
  if (hasChromium) return false
  const message = `Chromium is not installed at ${CHROMIUM}: the browser tests are SKIPPED (apt-get install -y chromium)`
  if (process.env.CI !== undefined) throw new Error(`${message}; CI must run them`)
  console.error(`\n!!! ${message}\n`)
  t.skip(message)
  return true
}

/**
 * Headless Chromium with a fresh profile, offline apart from this machine: every *.test host name resolves
 * to 127.0.0.1, so pages can be reached by names that are not loopback (and are not secure contexts).
 */
export async function launchChromium (t: TestLike): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'openim-gateway-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir,
    args: [
      '--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP *.test 127.0.0.1'
    ]
  })
  t.teardown(async () => {
    await browser.close()
    rmSync(userDataDir, { recursive: true, force: true })
  })
  return browser
}

/** Console errors and uncaught exceptions of a page, as text. */
export function pageErrors (page: Page): string[] {
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => errors.push(String(error)))
  return errors
}

/** An empty HTML page on a loopback port, for any *.test host name: each name is an origin of its own. */
export async function startPageServer (t: TestLike): Promise<{ port: number, url: (host: string) => string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>front end</title><h1>front end</h1>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  return { port, url: (host) => `http://${host}:${port}` }
}
