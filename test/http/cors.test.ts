import t from 'tap'
import { buildGateway, startOpenIm } from '../helper.js'

const ORIGIN = 'https://app.example.com'

t.test('a preflight without Origin or Access-Control-Request-Method is 400 in the one JSON error shape', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { CORS_ORIGINS: ORIGIN })
  const incomplete: Array<Record<string, string>> = [
    { 'access-control-request-method': 'POST' },
    { origin: ORIGIN },
    {}
  ]
  for (const headers of incomplete) {
    const response = await app.inject({ method: 'OPTIONS', url: '/provision', headers })
    t.equal(response.statusCode, 400, JSON.stringify(headers))
    t.match(response.headers['content-type'], /^application\/json/)
    t.same(Object.keys(response.json()).sort(), ['code', 'error', 'message', 'requestId', 'statusCode'])
    t.match(response.json(), { statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: /Origin and Access-Control-Request-Method/ })
    t.equal(response.json().requestId, response.headers['x-request-id'])
  }
  const complete = await app.inject({ method: 'OPTIONS', url: '/provision', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } })
  t.equal(complete.statusCode, 204, 'a whole preflight is still answered by CORS')
})

t.test('other origins get no Access-Control-Allow-Origin; the rest of the CORS headers are the same for every origin', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { CORS_ORIGINS: ORIGIN })
  const preflight = (origin: string) => app.inject({ method: 'OPTIONS', url: '/provision', headers: { origin, 'access-control-request-method': 'POST' } })
  const [allowed, stranger] = [await preflight(ORIGIN), await preflight('https://evil.example.com')]
  t.equal(allowed.headers['access-control-allow-origin'], ORIGIN)
  t.notOk(stranger.headers['access-control-allow-origin'], 'the header browsers check')
  for (const header of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age', 'access-control-expose-headers']) {
    t.equal(stranger.headers[header], allowed.headers[header], `${header}: the same for both (README "Browsers")`)
  }
})
