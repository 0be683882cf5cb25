import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { pinnedClientPath, subresourceIntegrity } from '../../src/http/routes/client-script.js'
import { builtClientScript } from '../client/built.js'
import { buildGateway, startOpenIm } from '../helper.js'

const script = builtClientScript()

t.test('/client.js is the built provider as an ES module, cached briefly and revalidated by ETag', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await app.inject({ url: '/client.js' })
  t.equal(response.statusCode, 200)
  t.equal(response.body, script)
  t.match(response.headers['content-type'], /^text\/javascript/)
  t.equal(response.headers['cache-control'], 'public, max-age=300')
  const etag = response.headers.etag
  t.ok(etag)
  const again = await app.inject({ url: '/client.js', headers: { 'if-none-match': String(etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('/client/<content hash>.js is the same script, immutable; any other name is a 404 naming the pinned one', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const path = pinnedClientPath(script)
  t.match(path, /^\/client\/[0-9a-f]{16}\.js$/)
  t.equal(path, `/client/${createHash('sha256').update(script).digest('hex').slice(0, 16)}.js`, 'the first 16 hex digits of the script\'s sha256')
  const pinned = await app.inject({ url: path })
  t.equal(pinned.statusCode, 200)
  t.equal(pinned.body, script)
  t.equal(pinned.headers['cache-control'], 'public, max-age=31536000, immutable')
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  for (const url of [`/client/${version}.js`, '/client/0123456789abcdef.js']) {
    const other = await app.inject({ url })
    t.equal(other.statusCode, 404, `${url}: the package version no longer names a build`)
    t.match(other.json(), { code: 'NOT_FOUND', message: `pinned at ${path}` }, url)
  }
})

t.test('the pinned name follows the content: another build of the provider gets another URL', async (t) => {
  t.not(pinnedClientPath(`${script}\n`), pinnedClientPath(script))
  t.equal(pinnedClientPath(script), pinnedClientPath(String(script)), 'the same bytes, the same URL')
})

t.test('allowed origins may import the provider (CORS); others get no CORS headers', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { CORS_ORIGINS: 'https://app.example.com' })
  const allowed = await app.inject({ url: '/client.js', headers: { origin: 'https://app.example.com' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
  const stranger = await app.inject({ url: '/client.js', headers: { origin: 'https://evil.example.com' } })
  t.notOk(stranger.headers['access-control-allow-origin'])
})

t.test('the front-end guide\'s pinned <script> is this build\'s: URL and SRI hash (both change when src/client does)', async (t) => {
  const guide = await readFile(new URL('../../docs/guides/front-ends.md', import.meta.url), 'utf8')
  const [tag] = /<script type="module" src="https:\/\/gateway\.example\.com\/client\/[^"]*"[^>]*><\/script>/.exec(guide) ?? []
  const expected = `<script type="module" src="https://gateway.example.com${pinnedClientPath(script)}" crossorigin\n  integrity="${subresourceIntegrity(script)}"></script>`
  t.equal(tag, expected, 'docs/guides/front-ends.md: replace the pinned <script> with the expected one')
})

t.test('the provider stays out of the OpenAPI document (it is not part of the API)', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const document = (await app.inject({ url: '/docs/json' })).json()
  t.notOk(Object.keys(document.paths).some((path) => path.startsWith('/client')))
})
