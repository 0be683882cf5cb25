import { readFile } from 'node:fs/promises'
import t from 'tap'
import { CLIENT_VERSION, subresourceIntegrity } from '../../src/http/routes/client-script.js'
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

t.test('/client/<version>.js is the same script, immutable; another version is a 404 in the one error shape', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const pinned = await app.inject({ url: `/client/${CLIENT_VERSION}.js` })
  t.equal(pinned.statusCode, 200)
  t.equal(pinned.body, script)
  t.equal(pinned.headers['cache-control'], 'public, max-age=31536000, immutable')
  const other = await app.inject({ url: '/client/0.0.1.js' })
  t.equal(other.statusCode, 404)
  t.match(other.json(), { code: 'NOT_FOUND', message: new RegExp(`/client/${CLIENT_VERSION.replaceAll('.', '\\.')}\\.js`) })
})

t.test('allowed origins may import the provider (CORS); others get no CORS headers', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { CORS_ORIGINS: 'https://app.example.com' })
  const allowed = await app.inject({ url: '/client.js', headers: { origin: 'https://app.example.com' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
  const stranger = await app.inject({ url: '/client.js', headers: { origin: 'https://evil.example.com' } })
  t.notOk(stranger.headers['access-control-allow-origin'])
})

t.test('the README documents the SRI hash of the versioned script (update it when src/client changes)', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.ok(readme.includes(`/client/${CLIENT_VERSION}.js`), 'the versioned URL')
  t.ok(readme.includes(subresourceIntegrity(script)), `the hash ${subresourceIntegrity(script)}`)
})

t.test('the provider stays out of the OpenAPI document (it is not part of the API)', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const document = (await app.inject({ url: '/docs/json' })).json()
  t.notOk(Object.keys(document.paths).some((path) => path.startsWith('/client')))
})
