import { SignJWT } from 'jose'
import t from 'tap'
import { skewFromDates, skewFromToken } from '../../src/doctor/checks/clock.js'
import type { RawAnswer } from '../../src/openim/diagnostics.js'

const answer = (sentAt: number, receivedAt: number, date?: string) => ({ sentAt, receivedAt, date }) as RawAnswer

t.test('answers stamped at different moments of their second narrow the skew below a second', async (t) => {
  // OpenIM 10.3 s ahead: its Date header shows the whole second of (local time + 10.3 s).
  const at = (local: number) => answer(local - 5, local + 5, new Date(Math.floor((local + 10_300) / 1000) * 1000).toUTCString())
  const skew = skewFromDates([at(1_000_000_100), at(1_000_000_500), at(1_000_000_900)])!
  t.ok(Math.abs(skew.skewMs - 10_300) <= 200, `estimate ${skew.skewMs} ms`)
  t.ok(skew.precisionMs < 300, `precision ±${skew.precisionMs} ms, better than one answer's ±500`)
})

t.test('answers that contradict each other (replicas with different clocks) fall back to the last one', async (t) => {
  const skew = skewFromDates([
    answer(1_000_000_000, 1_000_000_010, new Date(1_000_060_000).toUTCString()),
    answer(1_000_000_100, 1_000_000_110, new Date(1_000_000_000).toUTCString())
  ])!
  t.ok(Math.abs(skew.skewMs) <= 1000, `the last answer's ${skew.skewMs} ms`)
})

t.test('no Date header, no estimate', async (t) => {
  t.equal(skewFromDates([answer(1, 2), answer(3, 4, 'not a date')]), undefined)
})

t.test('the token\'s back-dating comes from its claims: nbf present (up to v3.8.2) means iat = now, none (v3.8.3+) iat = now − 5 s', async (t) => {
  // tools tokenverify.BuildClaims: v0.0.50-alpha.32 (v3.8.2) sets nbf = now − 5 min and iat = now; alpha.67 (v3.8.3)
  // sets iat = now − 5 s and no nbf. v3.8.1 and v3.8.2 answer like v3.8.3 otherwise: the release cannot tell.
  const key = new TextEncoder().encode('a-secret')
  const mintedAt = 1_800_000_000
  const sign = (claims: Record<string, number>) =>
    new SignJWT({ UserID: 'imAdmin', PlatformID: 10, exp: mintedAt + 86_400, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(key)
  // Sent as the server's second began and read as it ended: a token stamped in that second means no skew.
  const mint = { sentAt: mintedAt * 1000, receivedAt: mintedAt * 1000 + 1000 }
  t.equal(skewFromToken(await sign({ nbf: mintedAt - 300, iat: mintedAt }), mint), 0, 'v3.8.1 / v3.8.2 (and older): in step')
  t.equal(skewFromToken(await sign({ iat: mintedAt - 5 }), mint), 0, 'v3.8.3+: in step')
  t.equal(skewFromToken(await sign({ nbf: mintedAt - 300, iat: mintedAt + 20 }), mint), 20_000, 'an OpenIM 20 s ahead')
  t.equal(skewFromToken('not-a-jwt', mint), undefined)
})
