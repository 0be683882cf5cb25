import { ReplyError } from 'ioredis'
import type { RedisTopology } from '../config/index.js'

/** The real cause of a Redis failure, for logs, the degraded gauge's log line and npm run doctor. */
export type RedisCause =
  | 'authentication' | 'tls' | 'refused' | 'timeout' | 'dns' | 'closed' | 'topology'
  | 'permission' | 'unsupported' | 'read-only' | 'full' | 'busy'

/** Why Redis cannot serve the gateway, and what to change. */
export interface RedisProblem {
  cause: RedisCause
  reason: string
  hint: string
  /** 'writes': reads still work (OOM with noeviction, a read-only replica); 'all': nothing does. */
  scope: 'all' | 'writes'
  /** Lasts until the settings change (a Cluster node behind REDIS_URL): not probed again, so it cannot flap. */
  lasting?: boolean
}

/** What a diagnosis needs to know of the settings, to name the variable to change. */
export interface RedisDiagnosisContext {
  topology: RedisTopology['kind']
  commandTimeoutMs: number
  /** Texts no reason may repeat (the passwords), replaced before anything is logged. */
  secrets?: string[]
}

const TOPOLOGY_VARIABLE = { standalone: 'REDIS_URL', sentinel: 'REDIS_SENTINELS', cluster: 'REDIS_CLUSTER_NODES' } as const

// +select: for a database other than 0; +cluster|slots and +cluster|info: for a Cluster (its slot map, its ready check).
const ACL = 'ACL SETUSER <user> +get +set +del +eval +incr +pexpire +pttl +type +ping +info +select +cluster|slots +cluster|info ' +
  '~openim-gateway:*'

/**
 * The error's message fit for a log line: its first line, without the arguments Redis echoes back for an
 * unknown command ("with args beginning with: …"), which may hold the values a command was writing, and
 * without any configured secret.
 */
export function redisErrorText (error: unknown, secrets: string[] = []): string {
  const message = error instanceof Error ? error.message : String(error)
  let text = message.split('\n')[0]!.replace(/,? with args beginning with:.*$/, '').slice(0, 300)
  for (const secret of secrets) if (secret.length >= 4) text = text.replaceAll(secret, '<redacted>')
  return text
}

function credentialsHint (context: RedisDiagnosisContext): string {
  return context.topology === 'standalone'
    ? 'REDIS_URL (redis://<user>:<password>@host:6379/0) or REDIS_USERNAME/REDIS_PASSWORD must hold the user and password Redis expects'
    : 'REDIS_USERNAME/REDIS_PASSWORD must hold the data nodes\' user and password' +
      (context.topology === 'sentinel' ? ', REDIS_SENTINEL_USERNAME/REDIS_SENTINEL_PASSWORD the sentinels\' own' : '')
}

// Replies that mean no command of ours will succeed for now (Redis loading, busy, without its primary), until an
// operator acts (an ACL without the commands we run, a proxy or managed Redis without scripting), or that refuse
// writes only. A command's own errors (WRONGTYPE, a script's runtime error) are not among them.
function replyProblem (reason: string, context: RedisDiagnosisContext): Omit<RedisProblem, 'reason'> | undefined {
  const where = TOPOLOGY_VARIABLE[context.topology]
  const all = (cause: RedisCause, hint: string) => ({ cause, hint, scope: 'all' as const })
  // Inside a script, Redis 7.0 words an ACL refusal as an ERR.
  if (/^NOPERM\b|^ERR The user executing the script can't run this command/.test(reason)) {
    return all('permission', `the Redis user lacks a permission the gateway needs: ${ACL}`)
  }
  if (/^(MOVED|ASK|CROSSSLOT)\b/.test(reason) || (/^CLUSTERDOWN\b/.test(reason) && context.topology !== 'cluster')) {
    if (context.topology === 'cluster') return undefined
    const hint = `${where} points at a Redis Cluster node: list the cluster's nodes in REDIS_CLUSTER_NODES instead (and restart)`
    return { ...all('topology', hint), lasting: true }
  }
  if (/^CLUSTERDOWN\b/.test(reason)) {
    return all('busy', 'the cluster does not serve every slot (a primary and its replicas are down): it comes back by itself once one ' +
      'of them is promoted')
  }
  if (/^ERR DB index is out of range/.test(reason)) {
    return all('unsupported', 'REDIS_DB (or REDIS_URL\'s /<db>) names a database this Redis does not have (its `databases` ' +
      'setting, 16 by default)')
  }
  if (/^ERR unknown (sub)?command\b/.test(reason) || /^NOSCRIPT\b/.test(reason)) {
    return all('unsupported', 'this Redis (or a proxy or managed service in front of it) does not offer a command the gateway runs: ' +
      'give it a Redis that runs Lua scripts (EVAL)')
  }
  if (/^(NOAUTH|WRONGPASS)\b/.test(reason)) return all('authentication', credentialsHint(context))
  if (/^READONLY\b/.test(reason)) {
    return {
      cause: 'read-only',
      scope: 'writes',
      hint: context.topology === 'sentinel'
        ? 'the primary was demoted: the gateway asks the sentinels for the new one'
        : `${where} points at a read-only replica: point it at the primary (or use REDIS_SENTINELS)`
    }
  }
  if (/^NOREPLICAS\b/.test(reason)) {
    const hint = 'the primary cannot reach enough replicas (min-replicas-to-write): it takes writes again once they are back, ' +
      'or once a failover has replaced it'
    return { cause: 'read-only', scope: 'writes', hint }
  }
  if (/^OOM\b/.test(reason)) {
    const hint = 'Redis is full (maxmemory with noeviction) and refuses writes; reads go on: give it memory'
    return { cause: 'full', scope: 'writes', hint }
  }
  if (/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/.test(reason)) {
    return all('busy', 'Redis is loading its data, running a long script or without its primary: it should come back by itself')
  }
  return undefined
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|EPROTO$|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/

/**
 * Why a connection (not a command) failed: refused, timed out, a name that does not resolve, TLS, a
 * password, or a server of another topology. ioredis reports the sentinels' and the cluster's failures
 * wrapped ("All sentinels are unreachable… Last error: …", "Failed to refresh slots cache" with
 * lastNodeError), so the innermost error is read.
 */
export function connectionProblem (error: unknown, context: RedisDiagnosisContext): RedisProblem {
  const inner = (error as { lastNodeError?: unknown }).lastNodeError ?? error
  const code = String((inner as NodeJS.ErrnoException).code ?? '')
  const reason = redisErrorText(inner, context.secrets)
  const where = TOPOLOGY_VARIABLE[context.topology]
  const problem = (cause: RedisCause, hint: string): RedisProblem => ({ cause, reason, hint, scope: 'all' })
  // Before the replies: a server of another topology answers the sentinels' or the cluster's commands with an
  // "unknown command", which is no missing feature of a Redis the gateway uses.
  if (/unknown command .?sentinel/i.test(reason)) {
    return problem('topology', 'REDIS_SENTINELS lists a Redis that is no sentinel (their port is usually 26379)')
  }
  if (/cluster support disabled/i.test(reason)) {
    return problem('topology', 'REDIS_CLUSTER_NODES lists a Redis that is no cluster node: use REDIS_URL (or REDIS_SENTINELS) for it')
  }
  // ioredis words a failure of every sentinel "All sentinels are unreachable… Last error: <the last sentinel's>".
  const fromSentinels = context.topology === 'sentinel' && /All sentinels are unreachable/.test(reason)
  if (fromSentinels && /WRONGPASS|NOAUTH/.test(reason)) {
    return problem('authentication', 'the sentinels refused the gateway: REDIS_SENTINEL_USERNAME/REDIS_SENTINEL_PASSWORD must hold ' +
      'the sentinels\' own user and password (not the data nodes\')')
  }
  const reply = replyProblem(reason.replace(/^(Ready check failed: |.*Last error: )/, ''), context)
  if (reply !== undefined) return { ...reply, reason }
  if (/WRONGPASS|NOAUTH|invalid (username|password)|AUTH .*called without any password/i.test(reason)) {
    return problem('authentication', credentialsHint(context))
  }
  if (TLS_CODES.test(code) || /certificate|\bSSL\b|\bTLS\b|wrong version number/i.test(reason)) {
    return problem('tls', 'the TLS handshake failed: REDIS_TLS_CA_FILE must hold the CA that signed the server\'s certificate, ' +
      'REDIS_TLS_SERVERNAME the name in it, and a server that wants a client certificate REDIS_TLS_CERT_FILE/REDIS_TLS_KEY_FILE')
  }
  if (/invalid reply: null|No such master with that name/.test(reason)) {
    return problem('topology', 'the sentinels watch no primary of that name: REDIS_SENTINEL_MASTER must be the name in their ' +
      '"sentinel monitor" line')
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(reason)) {
    return problem('refused', `nothing listens at ${where}'s address: is Redis running, and on that port?`)
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(reason)) {
    return problem('dns', `${where}'s host name does not resolve from here`)
  }
  if (code === 'ETIMEDOUT' || /timed out|ETIMEDOUT/i.test(reason)) {
    return problem('timeout', `Redis did not answer within ${context.commandTimeoutMs} ms (REDIS_COMMAND_TIMEOUT_MS): ` +
      'a firewall dropping packets, a paused or overloaded Redis, or a server without TLS reached with rediss:// or REDIS_TLS=true')
  }
  return problem('closed', 'the connection closed before Redis answered: a restart or a failover (it is used again once it answers), ' +
    'a server that speaks TLS reached without it (use rediss:// or REDIS_TLS=true), or a proxy that refused the gateway')
}

/**
 * What an error from a command means: a problem that makes Redis unusable for every user of it (the breaker
 * opens), one that refuses writes only, or undefined for an error that is the command's own. A failure that
 * is no reply at all (a timeout, a closed connection) is always a problem.
 */
export function unusableRedis (error: unknown, context: RedisDiagnosisContext): RedisProblem | undefined {
  if (!(error instanceof ReplyError)) return connectionProblem(error, context)
  const reason = redisErrorText(error, context.secrets)
  const problem = replyProblem(reason, context)
  return problem === undefined ? undefined : { ...problem, reason }
}

/**
 * Whether a command that failed may still have run: a timeout or a connection lost after it was sent. A
 * reply (even an error) is a known outcome, and so is a command ioredis refused to send.
 */
export function outcomeUnknown (error: unknown): boolean {
  if (error instanceof ReplyError) return false
  return !/enableOfflineQueue|isn't writeable|Cluster is ended|isn't ready/.test(error instanceof Error ? error.message : String(error))
}
