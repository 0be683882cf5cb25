import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { SignJWT } from 'jose'

// The demo's end-user path: an HS256 secret generated once and kept in a git-ignored file, so
// `npm run demo:token -- <userID>` can mint more tokens for the running demo (and restarts keep them valid).
const STATE_DIR = new URL('../../.demo/', import.meta.url)
const STATE_FILE = new URL('jwt.json', STATE_DIR)

export interface DemoJwt { secret: string, issuer: string, audience: string }

export const DEMO_ISSUER = 'openim-gateway-demo'
export const DEMO_AUDIENCE = 'openim-gateway'
export const DEMO_TOKEN_LIFETIME = '12h'

/** The demo's JWT settings, created on first use. */
export async function demoJwt (): Promise<DemoJwt> {
  const existing = await readDemoJwt()
  if (existing !== undefined) return existing
  const created = { secret: randomBytes(32).toString('base64url'), issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE }
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 })
  await writeFile(STATE_FILE, JSON.stringify(created, null, 2) + '\n', { mode: 0o600 })
  return created
}

export async function readDemoJwt (): Promise<DemoJwt | undefined> {
  try {
    return JSON.parse(await readFile(STATE_FILE, 'utf8')) as DemoJwt
  } catch {
    return undefined
  }
}

export const demoJwtFile = STATE_FILE.pathname

/** An end-user token the demo gateway accepts: sub (the userID), name, iss, aud, iat, exp. */
export function signDemoToken (jwt: DemoJwt, userID: string): Promise<string> {
  return new SignJWT({ name: userID })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userID)
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setIssuedAt()
    .setExpirationTime(DEMO_TOKEN_LIFETIME)
    .sign(new TextEncoder().encode(jwt.secret))
}
