import { randomBytes } from 'node:crypto'
import { MemoryTokenStore } from '../provisioning/token-store/memory.js'

// `npm run bench` forks this with --expose-gc: the heap the in-memory token store holds at N entries (the
// default TOKEN_CACHE_MAX_ENTRIES), filled with tokens shaped like OpenIM's (HS256 JWTs with the claims
// UserID, PlatformID, exp, iat) for userIDs of 12 characters.
const entries = Number(process.argv[2] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const header = base64url({ alg: 'HS256', typ: 'JWT' })
const now = Math.floor(Date.now() / 1000)

function heapMb (): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const store = new MemoryTokenStore(entries)
const before = heapMb()
let tokenChars = 0
for (let i = 0; i < entries; i++) {
  const userID = `user_${String(i).padStart(7, '0')}`
  // Through JSON, as tokens arrive from OpenIM: one flat string, not the pieces a template literal leaves joined.
  const claims = base64url({ UserID: userID, PlatformID: 5, exp: now + 7_776_000, iat: now - 5 })
  const token = JSON.parse(JSON.stringify(`${header}.${claims}.${randomBytes(32).toString('base64url')}`)) as string
  tokenChars += token.length
  store.rememberNow({ userID, platformID: 5 }, { token, expiresAt: Date.now() + 7_776_000_000, lifetimeSeconds: 7_776_000 })
}
const after = heapMb()
console.log(`\nIn-memory token store at ${store.size} entries (tokens of ${Math.round(tokenChars / entries)} characters): ` +
  `${(after - before).toFixed(1)} MB of heap, ${Math.round((after - before) * 1024 * 1024 / entries)} bytes per entry`)
