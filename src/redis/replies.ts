import { ReplyError } from 'ioredis'

/** Why Redis cannot serve the gateway, and what to change; for the breaker's log line and for npm run doctor. */
export interface RedisProblem {
  reason: string
  hint: string
}

const GATEWAY_COMMANDS = 'GET, SET, DEL and EVAL (scripts calling GET, DEL, INCR, PEXPIRE and PTTL) on keys openim-gateway:*, and PING'

// Replies that mean no command of ours will succeed for now (Redis loading, busy, full, without its primary)
// or until an operator acts (an ACL without the commands we run, a cluster endpoint, a proxy or managed Redis
// without scripting). A command's own errors (WRONGTYPE, a script's runtime error) are not among them.
const UNUSABLE_REPLIES: Array<[RegExp, string]> = [
  [/^NOPERM\b/, `REDIS_URL's user lacks a permission the gateway needs: allow it ${GATEWAY_COMMANDS} (ACL SETUSER <user> +eval +get +set +del +incr +pexpire +pttl +ping ~openim-gateway:*)`],
  [/^(MOVED|ASK|CROSSSLOT|CLUSTERDOWN)\b/, 'REDIS_URL points at a Redis Cluster, which the gateway does not speak: give it a standalone Redis (or a primary behind Sentinel)'],
  [/^ERR unknown (sub)?command\b/, `this Redis (or a proxy or managed service in front of it) does not offer a command the gateway runs (${GATEWAY_COMMANDS}): give it a Redis that allows Lua scripts`],
  [/^NOSCRIPT\b/, 'this Redis (or a proxy in front of it) does not run Lua scripts: give the gateway a Redis that allows EVAL'],
  [/^(NOAUTH|WRONGPASS)\b/, 'REDIS_URL must hold the user and password Redis expects: redis://[<user>]:<password>@host:6379/0'],
  [/^READONLY\b/, 'REDIS_URL points at a read-only replica: point it at the primary'],
  [/^OOM\b/, 'Redis is full (maxmemory) and refuses writes: give it memory or an eviction policy'],
  [/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/, 'Redis is loading its data, running a long script or without its primary: it should come back by itself']
]

/**
 * The error's message fit for a log line: its first line, without the arguments Redis echoes back for an
 * unknown command ("with args beginning with: …"), which may hold the values a command was writing.
 */
export function redisErrorText (error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0]!.replace(/,? with args beginning with:.*$/, '').slice(0, 300)
}

/**
 * What an error from a Redis command means: a problem that makes Redis unusable for every user of it (the
 * breaker opens), or undefined for an error that is the command's own. A failure that is no reply at all (a
 * timeout, a closed connection) is always a problem.
 */
export function unusableRedis (error: unknown): RedisProblem | undefined {
  const reason = redisErrorText(error)
  if (!(error instanceof ReplyError)) {
    return { reason, hint: 'REDIS_URL must point at a Redis reachable from here that answers within 500 ms' }
  }
  const hint = UNUSABLE_REPLIES.find(([pattern]) => pattern.test(reason))?.[1]
  return hint === undefined ? undefined : { reason, hint }
}
