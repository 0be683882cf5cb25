import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose'

// End-user tokens for tests: HS256 with a shared secret, RS256 keys published by a local JWKS server.
export const JWT_SECRET = 'a-test-hs256-secret-of-at-least-32-chars'
/** The audience test gateways require (JWT_AUDIENCE) and test tokens carry unless a test says otherwise. */
export const AUDIENCE = 'chat'
const hs256 = new TextEncoder().encode(JWT_SECRET)

export interface Claims { sub?: string, iss?: string, aud?: string, exp?: number, nbf?: number, iat?: number, [claim: string]: unknown }

/** aud, iat and a 5-minute exp unless the test says otherwise; a claim set to undefined is left out. */
function withDefaults (claims: Claims): Claims {
  const now = Math.floor(Date.now() / 1000)
  return { aud: AUDIENCE, iat: now, exp: now + 300, ...claims }
}

export function signHs256 (claims: Claims, key: Uint8Array = hs256) {
  return new SignJWT(withDefaults(claims)).setProtectedHeader({ alg: 'HS256' }).sign(key)
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** A key-set endpoint on a loopback port; `status` makes it fail, `fetches()` counts what it served. */
export async function jwksServer (t: { teardown (fn: () => unknown): void }) {
  const keys: { current: JWK[], status: number } = { current: [], status: 200 }
  let fetches = 0
  const server: Server = createServer((_req, res) => {
    fetches++
    res.writeHead(keys.status, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.current }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, keys, fetches: () => fetches }
}

export async function rsaKey (kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const sign = (claims: Claims) => new SignJWT(withDefaults(claims)).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey)
  return { jwk, sign, publicKey }
}
