// The browser token provider (`openim-gateway/client`, served as /client.js): holds one live OpenIM token per
// platform for a page, shared with the other tabs of its origin. Browser-only: no Node imports, one file
// (the gateway serves it as a single ES module).

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

/** Where a token is kept between page loads, when the page opts in (sessionStorage, localStorage). */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

export interface TokenProviderOptions {
  /** The gateway's address, e.g. "https://gateway.example.com". */
  baseUrl: string
  /** The OpenIM platform this page logs in as (5 = Web). */
  platformID: number
  /** The whole Authorization header value ("Bearer <the user's ID token>"), read before every request. */
  getAuthorization?: () => string | undefined | Promise<string | undefined>
  /** Extra request headers (only those the gateway's CORS allows: x-request-id). */
  headers?: Record<string, string>
  /**
   * Opt-in: keep the token in this storage across reloads. Off by default on purpose: any script on the
   * origin can read storage, and a stored OpenIM token (90 days by default) is loot for any XSS.
   */
  storage?: TokenStorage
  /** How many times a 429 or 503 with Retry-After is waited out before the error is thrown (default 2). */
  maxRetries?: number
  /** The longest Retry-After that is waited out, in ms (default 60000); a longer one throws at once. */
  maxRetryWaitMs?: number
  /** How long a tab without a token waits for another tab to share one before asking the gateway (default 150 ms). */
  tabWaitMs?: number
}

export interface TokenProvider {
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
}

/** The gateway refused: its error body's code and requestId, and Retry-After when it sent one. */
export class GatewayRequestError extends Error {
  override name = 'GatewayRequestError'
  constructor (
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly retryAfterSeconds: number | undefined
  ) {
    super(message)
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

export function createTokenProvider (options: TokenProviderOptions): TokenProvider {
  const { platformID, storage, maxRetries = 2, maxRetryWaitMs = 60_000, tabWaitMs = 150 } = options
  const endpoint = `${options.baseUrl.replace(/\/+$/, '')}/provision`
  const key = `openim-gateway-token:${endpoint}:${platformID}`
  const self = Math.random().toString(36).slice(2)
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(key) : undefined
  let held: ProvisionAnswer | undefined = readStorage()
  let inflight: Promise<ProvisionAnswer> | undefined
  let asking = false
  const listeners = new Set<(message: Message) => void>()

  function readStorage (): ProvisionAnswer | undefined {
    try {
      const stored = storage?.getItem(key)
      const answer = stored == null ? undefined : JSON.parse(stored) as ProvisionAnswer
      return isLive(answer) ? answer : undefined
    } catch {
      return undefined
    }
  }

  function keep (answer: ProvisionAnswer) {
    // A later mint kicks the earlier token (OpenIM v3.8.1+), so the latest expiry wins.
    if (held === undefined || Date.parse(answer.expiresAt) >= Date.parse(held.expiresAt)) held = answer
    storage?.setItem(key, JSON.stringify(held))
    return held
  }

  function forget () {
    held = undefined
    storage?.removeItem(key)
  }

  channel?.addEventListener('message', ({ data }: MessageEvent<Message>) => {
    if (data.type === 'token' && isLive(data.answer)) keep(data.answer)
    if (data.type === 'clear') forget()
    if (data.type === 'ask') {
      if (isLive(held, data.stale)) channel.postMessage({ type: 'token', from: self, answer: held } satisfies Message)
      // Two tabs asking at once: the lower id fetches and the other waits for its token.
      else if ((inflight !== undefined && !asking) || (asking && self < data.from)) channel.postMessage({ type: 'busy', from: self } satisfies Message)
    }
    for (const listener of listeners) listener(data)
  })

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
        if (message.type === 'token' && isLive(message.answer, stale)) done(message.answer)
        const peerFetches = message.type === 'busy' || (message.type === 'ask' && message.from < self)
        if (peerFetches) {
          clearTimeout(timer)
          timer = setTimeout(done, BUSY_PEER_WAIT_MS)
        }
      }
      listeners.add(listen)
      channel.postMessage({ type: 'ask', from: self, ...(stale !== undefined && { stale }) } satisfies Message)
    })
  }

  async function provision (): Promise<ProvisionAnswer> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await options.getAuthorization?.()
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json', ...(authorization !== undefined && { authorization }) },
        body: JSON.stringify({ platformID })
      })
      if (response.ok) return await response.json() as ProvisionAnswer
      const body = await response.json().catch(() => ({})) as { code?: string, message?: string, requestId?: string }
      const wait = retryAfterSeconds(response.headers.get('retry-after'))
      const retriable = (response.status === 429 || response.status === 503) && wait !== undefined && wait * 1000 <= maxRetryWaitMs
      if (retriable && attempt < maxRetries) {
        await sleep(wait * 1000)
        continue
      }
      throw new GatewayRequestError(response.status, body.code ?? 'HTTP_ERROR', body.message ?? `the gateway answered ${response.status}`, body.requestId, wait)
    }
  }

  async function obtain (stale: string | undefined): Promise<ProvisionAnswer> {
    asking = true
    let shared: ProvisionAnswer | undefined
    try {
      shared = await askOtherTabs(stale)
    } finally {
      asking = false
    }
    if (shared !== undefined) return keep(shared)
    // A token another tab shared while this one waited counts too.
    if (isLive(held, stale)) return held
    const answer = keep(await provision())
    channel?.postMessage({ type: 'token', from: self, answer } satisfies Message)
    return answer
  }

  /** One request for every concurrent caller in this tab. */
  function once (stale: string | undefined): Promise<ProvisionAnswer> {
    inflight ??= obtain(stale).finally(() => { inflight = undefined })
    return inflight
  }

  return {
    getToken: () => isLive(held) ? Promise.resolve(held) : once(undefined),
    async refresh () {
      const stale = held?.token
      forget()
      // A request already under way may bring the new token this caller wants.
      const pending = await inflight?.catch(() => undefined)
      if (isLive(pending, stale)) return pending
      return once(stale)
    },
    clear () {
      forget()
      channel?.postMessage({ type: 'clear', from: self } satisfies Message)
    }
  }
}
