import type { IncomingHttpHeaders } from 'node:http'

/**
 * The request headers a debug log line may carry: enough to tell why a request was refused (what it sent, from
 * which client), nothing that authenticates. An allow-list, not a deny-list: a credential in a header nobody
 * thought of (a proxy's, an SDK's) stays out of the logs too. The values are the caller's text: capped, so a
 * flood of refused requests with huge headers costs no more log than small ones.
 */
export const LOGGED_HEADERS = ['content-type', 'content-length', 'user-agent', 'x-request-id', 'origin', 'accept'] as const

const MAX_VALUE_LENGTH = 256

export function loggedHeaders (headers: IncomingHttpHeaders): Partial<Record<(typeof LOGGED_HEADERS)[number], string>> {
  const kept: Partial<Record<(typeof LOGGED_HEADERS)[number], string>> = {}
  for (const name of LOGGED_HEADERS) {
    const value = headers[name]
    if (value !== undefined) kept[name] = (Array.isArray(value) ? value.join(', ') : value).slice(0, MAX_VALUE_LENGTH)
  }
  return kept
}
