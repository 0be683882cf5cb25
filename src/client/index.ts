// The browser token provider (`openim-gateway/client`, served as /client.js): holds one live OpenIM token per
// platform for a page, shared with the other tabs of its origin signed in as the same person. Browser-only: no
// Node imports, one file (the gateway serves it as a single ES module, pinned by one SRI hash), which is why the
// digest below is written here rather than imported.

/** The gateway's /provision answer. */
export interface ProvisionAnswer {
  userID: string
  platformID: number
  token: string
  expireTimeSeconds: number
  expiresAt: string
  created: boolean
  apiAddr?: string
  wsAddr?: string
  [field: string]: unknown
}

/**
 * Where a token is kept between page loads, when the page opts in (sessionStorage, localStorage). With `key` and
 * `length` (as Web Storage has them), the entries other people left for this gateway and platform are removed too.
 */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> & Partial<Pick<Storage, 'key' | 'length'>>

export interface TokenProviderOptions {
  /** The gateway's address, e.g. "https://gateway.example.com". */
  baseUrl: string
  /** The OpenIM platform this page logs in as (5 = Web). */
  platformID: number
  /** The whole Authorization header value ("Bearer <the user's ID token>"), read before every request. */
  getAuthorization?: () => string | undefined | Promise<string | undefined>
  /**
   * Who is signed in (the identity provider's subject, the app's user id), read on every getToken() and refresh().
   * A token is only ever handed to the identity it was fetched for, and is shared with tabs and kept in storage
   * under a digest of it. With a bearer JWT, its `iss` and `sub` (decoded, not verified) are part of the identity
   * too, so a page whose identity() lags behind a sign-in never gets the previous person's token; without this
   * option they are the identity. When neither names anyone, nothing is shared between tabs or kept in storage.
   */
  identity?: () => string | undefined | Promise<string | undefined>
  /** Extra request headers (only those the gateway's CORS allows: x-request-id). */
  headers?: Record<string, string>
  /**
   * Opt-in: keep the token in this storage across reloads. Off by default on purpose: any script on the
   * origin can read storage, and a stored OpenIM token (90 days by default) is loot for any XSS.
   */
  storage?: TokenStorage
  /**
   * How many times a failed request is tried again before the error is thrown (default 2): after Retry-After for a
   * 429 or 503 that carries one, after a growing, jittered wait for a network failure or a 502, 503 or 504 without.
   */
  maxRetries?: number
  /** The longest wait between two tries, in ms (default 60000); a longer Retry-After is thrown at once. */
  maxRetryWaitMs?: number
  /** How long a tab without a token waits for another tab to share one before asking the gateway (default 150 ms). */
  tabWaitMs?: number
}

/** A request that failed and is tried again after `delayMs`: the failure, and which retry comes next (1, 2…). */
export interface RetryDetail {
  attempt: number
  delayMs: number
  error: GatewayRequestError
}

/** The events a provider dispatches (`provider.addEventListener('token', …)`). */
export interface TokenProviderEventMap {
  /** Another token is in use (from the gateway, another tab or storage): `detail` is the answer. */
  token: CustomEvent<ProvisionAnswer>
  /** A request failed and is about to be tried again: a page can show "reconnecting". */
  retry: CustomEvent<RetryDetail>
  /** A request failed for good (after its retries): `detail` is the error the callers get. */
  error: CustomEvent<GatewayRequestError>
}

type Listener<K extends keyof TokenProviderEventMap> = (event: TokenProviderEventMap[K]) => void
type AddOptions = boolean | AddEventListenerOptions
type RemoveOptions = boolean | EventListenerOptions

export interface TokenProvider extends EventTarget {
  /** A live token: the one held (memory, another tab, opted-in storage) or a fresh one from the gateway. */
  getToken (): Promise<ProvisionAnswer>
  /**
   * Drops the held token and gets another. Call it when the OpenIM SDK reports the token expired or unknown
   * (1501, 1507). NOT when it reports the token kicked (1506): another device of the same platform logged
   * in, and refreshing would kick that device, which refreshes and kicks this one, in a loop.
   */
  refresh (): Promise<ProvisionAnswer>
  /** Forgets the token in this tab, in the others and in storage (on sign-out). */
  clear (): void
  addEventListener<K extends keyof TokenProviderEventMap> (type: K, listener: Listener<K>, options?: AddOptions): void
  addEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: AddOptions): void
  removeEventListener<K extends keyof TokenProviderEventMap> (type: K, listener: Listener<K>, options?: RemoveOptions): void
  removeEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: RemoveOptions): void
}

/**
 * A request that failed: the gateway's error body's code and requestId, and Retry-After when it sent one; or, with
 * status 0 and code GATEWAY_UNREACHABLE, no answer at all (the gateway restarting, offline, a CORS refusal). Code
 * USER_ID_CHANGED is a token for another userID than the identity was handed before, refused by the provider: with
 * the gateway's status when the gateway answered it, 0 when another tab or storage offered it.
 */
export class GatewayRequestError extends Error {
  override name = 'GatewayRequestError'
  constructor (
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly retryAfterSeconds: number | undefined,
    cause?: unknown
  ) {
    super(message, cause === undefined ? undefined : { cause })
  }
}

type Message =
  | { type: 'ask', from: string, stale?: string }
  | { type: 'busy', from: string }
  | { type: 'token', from: string, answer: ProvisionAnswer }
  | { type: 'clear', from: string }

// How long a tab waits for a tab that said it is already fetching. Other tabs answer an ask at once when they
// can, so the ask's own wait (tabWaitMs) only delays a lone tab's first token.
const BUSY_PEER_WAIT_MS = 15_000
// The first wait after a failure without Retry-After; each further one doubles, up to maxRetryWaitMs.
const FIRST_BACKOFF_MS = 500
// Tokens refresh() was called for, remembered so that no tab or storage hands them back.
const REFUSED_KEPT = 8
// Statuses a proxy or load balancer answers while the gateway behind it restarts.
const PROXY_STATUSES = new Set([502, 503, 504])
const STORAGE_PREFIX = 'openim-gateway-token:'

type Failure = { error: GatewayRequestError, waitMs: number | undefined }
type Answered = { answer: ProvisionAnswer, status: number, requestId: string | undefined }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Valid until shortly before expiresAt: a tenth of its lifetime, at most five minutes, is kept in hand. */
function isLive (answer: ProvisionAnswer | undefined, stale?: string): answer is ProvisionAnswer {
  if (answer === undefined || answer.token === stale) return false
  const margin = Math.min(5 * 60_000, answer.expireTimeSeconds * 100)
  return Date.parse(answer.expiresAt) - margin > Date.now()
}

function retryAfterSeconds (value: string | null): number | undefined {
  if (value === null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

/** Half the doubled ceiling plus a random half of it: waits grow, and pages that failed together spread out. */
function backoffMs (attempt: number, maxWaitMs: number): number {
  const ceiling = Math.min(maxWaitMs, FIRST_BACKOFF_MS * 2 ** attempt)
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
}

/** The bearer JWT's issuer and subject (decoded, not verified: the gateway verifies), or undefined. */
function bearerSubject (authorization: string | undefined): [string, string] | undefined {
  const [, payload] = /^Bearer\s+[\w-]+\.([\w-]+)\.[\w-]*$/i.exec(authorization?.trim() ?? '') ?? []
  if (payload === undefined) return undefined
  try {
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (char) => char.charCodeAt(0))
    const { iss, sub } = JSON.parse(new TextDecoder().decode(bytes)) as { iss?: unknown, sub?: unknown }
    return typeof sub === 'string' && sub !== '' ? [typeof iss === 'string' ? iss : '', sub] : undefined
  } catch {
    return undefined
  }
}

/**
 * Who is signed in, as text: the page's identity and the bearer JWT's iss and sub, either alone when the other is
 * missing; undefined (nobody: nothing shared or stored) when the page names none, or when it has no identity
 * option and the bearer JWT names nobody.
 */
function identityText (named: string | undefined, hasOption: boolean, authorization: string | undefined): string | undefined {
  const bearer = bearerSubject(authorization)
  if (!hasOption) return bearer === undefined ? undefined : JSON.stringify(bearer)
  if (named === undefined || named === '') return undefined
  return bearer === undefined ? named : JSON.stringify([named, ...bearer])
}

// SHA-256 (FIPS 180-4) over UTF-8. crypto.subtle would do it, but only in secure contexts and only asynchronously.
const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n))
const primes: number[] = []
for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n)
const fraction = (root: number) => ((root - Math.floor(root)) * 2 ** 32) >>> 0
const ROUND = primes.map((p) => fraction(Math.cbrt(p)))
const INITIAL = primes.slice(0, 8).map((p) => fraction(Math.sqrt(p)))

function sha256Hex (text: string): string {
  const bytes = new TextEncoder().encode(text)
  // The bytes, a 1 bit, zeros, and the length in bits: whole 64-byte blocks of big-endian words.
  const words = new Array<number>(((bytes.length + 8) >> 6) * 16 + 16).fill(0)
  bytes.forEach((byte, i) => { words[i >> 2] = words[i >> 2]! | (byte << (24 - (i % 4) * 8)) })
  words[bytes.length >> 2] = words[bytes.length >> 2]! | (0x80 << (24 - (bytes.length % 4) * 8))
  words[words.length - 1] = bytes.length * 8
  const hash = [...INITIAL]
  const w = new Array<number>(64).fill(0)
  for (let block = 0; block < words.length; block += 16) {
    for (let i = 0; i < 64; i++) {
      const [a, b] = [w[i - 15] ?? 0, w[i - 2] ?? 0]
      const [s0, s1] = [rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3), rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10)]
      w[i] = i < 16 ? words[block + i]! : (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
    }
    let [a, b, c, d, e, f, g, h] = hash as [number, number, number, number, number, number, number, number]
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + ROUND[i]! + w[i]!) | 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0
      h = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    const state = [a, b, c, d, e, f, g, h]
    for (let i = 0; i < 8; i++) hash[i] = (hash[i]! + state[i]!) | 0
  }
  return hash.map((value) => (value >>> 0).toString(16).padStart(8, '0')).join('')
}

const digest = (name: string | undefined) => name === undefined || name === '' ? undefined : sha256Hex(name)

export function createTokenProvider (options: TokenProviderOptions): TokenProvider {
  const { platformID, storage, maxRetries = 2, maxRetryWaitMs = 60_000, tabWaitMs = 150 } = options
  const endpoint = `${options.baseUrl.replace(/\/+$/, '')}/provision`
  // Tab channels and storage entries are named per identity: `prefix` + the digest of who is signed in.
  const prefix = `${STORAGE_PREFIX}v2:${endpoint}:${platformID}:`
  const self = Math.random().toString(36).slice(2)
  const provider = new EventTarget()
  /** The digest of who was signed in at the last look; `held` and `channel` belong to them alone. */
  let identity: string | undefined
  let channel: BroadcastChannel | undefined
  let held: ProvisionAnswer | undefined
  let announced: string | undefined
  let inflight: { identity: string | undefined, promise: Promise<ProvisionAnswer | undefined> } | undefined
  /** The userID this identity's tokens were for: an answer for another one is refused, never handed out. */
  let pinnedUserID: string | undefined
  let asking = false
  const refused = new Set<string>()
  const listeners = new Set<(message: Message) => void>()
  // Entries of the previous version were keyed by gateway and platform only, whoever was signed in.
  guarded(() => storage?.removeItem(`${STORAGE_PREFIX}${endpoint}:${platformID}`))

  /** Storage that refuses (quota, a private mode) only costs the reload a request. */
  function guarded<T> (use: () => T): T | undefined {
    try {
      return use()
    } catch {
      return undefined
    }
  }

  const dispatch = <K extends keyof TokenProviderEventMap>(type: K, detail: TokenProviderEventMap[K]['detail']) =>
    provider.dispatchEvent(new CustomEvent(type, { detail }))

  const post = (message: Message) => channel?.postMessage(message)

  /** The digest of who `authorization` and the page's identity() name. */
  async function identityOf (authorization: string | undefined): Promise<string | undefined> {
    return digest(identityText(await options.identity?.(), options.identity !== undefined, authorization))
  }

  async function currentIdentity (): Promise<string | undefined> {
    return identityOf(await options.getAuthorization?.())
  }

  /**
   * Whether `answer` may be handed to this identity: the first token pins its userID, and one for another userID
   * (a gateway whose JWT_USER_ID_MAPPING changed, a tab or storage entry that is not this person's) is refused
   * with an error event.
   */
  function forThisUser (answer: ProvisionAnswer, status = 0, requestId?: string): GatewayRequestError | undefined {
    if (pinnedUserID === undefined || answer.userID === pinnedUserID) return undefined
    const error = new GatewayRequestError(status, 'USER_ID_CHANGED', `a token for another userID (${answer.userID}) than this ` +
      `identity was given (${pinnedUserID}) is refused; clear() the provider on sign-out`, requestId, undefined)
    dispatch('error', error)
    return error
  }

  /** Moves this tab to `next`: a different person forgets the previous one's token here, in their tabs and in storage. */
  function enter (next: string | undefined) {
    if (next === identity) return
    if (identity !== undefined && next !== undefined) {
      post({ type: 'clear', from: self })
      guarded(() => storage?.removeItem(prefix + identity))
    }
    channel?.close()
    held = undefined
    pinnedUserID = undefined
    identity = next
    channel = next !== undefined && typeof BroadcastChannel === 'function' ? new BroadcastChannel(prefix + next) : undefined
    channel?.addEventListener('message', onMessage)
    if (next !== undefined) {
      dropOtherIdentities(next)
      const stored = guarded(() => JSON.parse(storage?.getItem(prefix + next) ?? 'null') as ProvisionAnswer | null) ?? undefined
      if (isLive(stored) && !refused.has(stored.token) && forThisUser(stored) === undefined) keep(stored)
    }
  }

  /** Entries someone else left for this gateway and platform (a shared device), when the storage can list them. */
  function dropOtherIdentities (current: string) {
    guarded(() => {
      if (storage?.key === undefined || storage.length === undefined) return
      const others: string[] = []
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i)
        if (key !== null && key.startsWith(prefix) && key !== prefix + current) others.push(key)
      }
      for (const key of others) storage.removeItem(key)
    })
  }

  function keep (answer: ProvisionAnswer) {
    pinnedUserID = answer.userID
    // A later mint kicks the earlier token (OpenIM v3.8.1+), so the latest expiry wins.
    if (held === undefined || Date.parse(answer.expiresAt) >= Date.parse(held.expiresAt)) held = answer
    if (identity !== undefined) guarded(() => storage?.setItem(prefix + identity, JSON.stringify(held)))
    if (held.token !== announced) {
      announced = held.token
      dispatch('token', held)
    }
    return held
  }

  function forget () {
    held = undefined
    if (identity !== undefined) guarded(() => storage?.removeItem(prefix + identity))
  }

  /** A token OpenIM refused (refresh() was called for it): never taken back from a tab or from storage. */
  function refuse (token: string) {
    forget()
    refused.add(token)
    if (refused.size > REFUSED_KEPT) refused.delete(refused.values().next().value!)
  }

  function onMessage ({ data }: MessageEvent<Message>) {
    if (data.type === 'token' && isLive(data.answer) && !refused.has(data.answer.token) && forThisUser(data.answer) === undefined) {
      keep(data.answer)
    }
    if (data.type === 'clear') forget()
    if (data.type === 'ask') {
      if (data.stale !== undefined && held?.token === data.stale) refuse(data.stale)
      if (isLive(held)) post({ type: 'token', from: self, answer: held })
      // Two tabs asking at once: the lower id fetches and the other waits for its token.
      else if ((inflight !== undefined && !asking) || (asking && self < data.from)) post({ type: 'busy', from: self })
    }
    for (const listener of listeners) listener(data)
  }

  /** Another tab's live token (not `stale`), or undefined when none answers in time. */
  function askOtherTabs (stale: string | undefined): Promise<ProvisionAnswer | undefined> {
    if (channel === undefined) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      let timer = setTimeout(done, tabWaitMs)
      function done (answer?: ProvisionAnswer) {
        clearTimeout(timer)
        listeners.delete(listen)
        resolve(answer)
      }
      function listen (message: Message) {
        if (message.type === 'token' && isLive(message.answer, stale) && !refused.has(message.answer.token) &&
          (pinnedUserID === undefined || message.answer.userID === pinnedUserID)) done(message.answer)
        const peerFetches = message.type === 'busy' || (message.type === 'ask' && message.from < self)
        if (peerFetches) {
          clearTimeout(timer)
          timer = setTimeout(done, BUSY_PEER_WAIT_MS)
        }
      }
      listeners.add(listen)
      post({ type: 'ask', from: self, ...(stale !== undefined && { stale }) })
    })
  }

  /** One POST /provision: the answer, or the error with how long to wait before trying again (none: give up). */
  async function request (authorization: string | undefined, attempt: number): Promise<Answered | Failure> {
    let response: Response
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json', ...(authorization !== undefined && { authorization }) },
        body: JSON.stringify({ platformID })
      })
    } catch (cause) {
      const message = `the gateway could not be reached (${String(cause)})`
      const error = new GatewayRequestError(0, 'GATEWAY_UNREACHABLE', message, undefined, undefined, cause)
      return { error, waitMs: backoffMs(attempt, maxRetryWaitMs) }
    }
    if (response.ok) {
      const requestId = response.headers.get('x-request-id') ?? undefined
      return { answer: await response.json() as ProvisionAnswer, status: response.status, requestId }
    }
    const body = await response.json().catch(() => ({})) as { code?: string, message?: string, requestId?: string }
    const wait = retryAfterSeconds(response.headers.get('retry-after'))
    const message = body.message ?? `the gateway answered ${response.status}`
    const error = new GatewayRequestError(response.status, body.code ?? 'HTTP_ERROR', message, body.requestId, wait)
    if (wait !== undefined) {
      const waitedOut = [429, ...PROXY_STATUSES].includes(response.status) && wait * 1000 <= maxRetryWaitMs
      return { error, waitMs: waitedOut ? wait * 1000 : undefined }
    }
    return { error, waitMs: PROXY_STATUSES.has(response.status) ? backoffMs(attempt, maxRetryWaitMs) : undefined }
  }

  /** The gateway's answer for `who`, or undefined when the bearer token or identity() stopped naming them meanwhile. */
  async function provision (who: string | undefined): Promise<Answered | undefined> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await options.getAuthorization?.()
      if (await identityOf(authorization) !== who) return undefined
      const outcome = await request(authorization, attempt)
      if ('answer' in outcome) return outcome
      if (outcome.waitMs === undefined || attempt >= maxRetries) {
        dispatch('error', outcome.error)
        throw outcome.error
      }
      dispatch('retry', { attempt: attempt + 1, delayMs: outcome.waitMs, error: outcome.error })
      await sleep(outcome.waitMs)
    }
  }

  async function obtain (who: string | undefined, stale: string | undefined): Promise<ProvisionAnswer | undefined> {
    asking = true
    let shared: ProvisionAnswer | undefined
    try {
      shared = await askOtherTabs(stale)
    } finally {
      asking = false
    }
    if (identity !== who) return undefined
    if (shared !== undefined) return keep(shared)
    // A token another tab shared while this one waited counts too.
    if (isLive(held, stale)) return held
    const answered = await provision(who)
    // Signed in as someone else by now: the answer is theirs to ask for, not this identity's to keep.
    if (answered === undefined || identity !== who) return undefined
    const { answer, status, requestId } = answered
    const refusal = forThisUser(answer, status, requestId)
    if (refusal !== undefined) throw refusal
    refused.delete(answer.token)
    const kept = keep(answer)
    post({ type: 'token', from: self, answer: kept })
    return kept
  }

  /** One request for every concurrent caller in this tab asking as the same identity. */
  function once (who: string | undefined, stale: string | undefined): Promise<ProvisionAnswer | undefined> {
    if (inflight !== undefined && inflight.identity === who) return inflight.promise
    const promise = obtain(who, stale).finally(() => { if (inflight?.promise === promise) inflight = undefined })
    inflight = { identity: who, promise }
    return promise
  }

  /** The token for whoever is signed in when it is handed over; asked again when that changed on the way. */
  async function tokenFor (stale: string | undefined): Promise<ProvisionAnswer> {
    for (;;) {
      const who = await currentIdentity()
      enter(who)
      if (stale === undefined && isLive(held)) return held
      const answer = await once(who, stale)
      if (answer !== undefined && await currentIdentity() === who) return answer
      stale = undefined
    }
  }

  async function refresh (): Promise<ProvisionAnswer> {
    enter(await currentIdentity())
    const stale = held?.token
    if (stale !== undefined) refuse(stale)
    // A request already under way may bring the new token this caller wants.
    const underWay = inflight !== undefined && inflight.identity === identity ? inflight.promise : undefined
    const pending = await underWay?.catch(() => undefined)
    if (isLive(pending, stale) && pending === held) return pending
    return tokenFor(stale)
  }

  function clear () {
    forget()
    pinnedUserID = undefined
    dropOtherIdentities('')
    post({ type: 'clear', from: self })
  }

  return Object.assign(provider, { getToken: () => tokenFor(undefined), refresh, clear }) as TokenProvider
}
