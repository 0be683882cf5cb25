import t from 'tap'
import { ReplyError } from 'ioredis'
import { connectionProblem, outcomeUnknown, redisErrorText, unusableRedis, type RedisDiagnosisContext } from '../../src/redis/replies.js'

// Replies and connection failures as Redis 7 and Node word them (from redis-server, redis-cli and the TLS tests on this
// machine, Redis's sources for the cluster ones), as ioredis hands them over.
const reply = (message: string) => new ReplyError(message)
const standalone: RedisDiagnosisContext = { topology: 'standalone', commandTimeoutMs: 500 }
const sentinel: RedisDiagnosisContext = { topology: 'sentinel', commandTimeoutMs: 500 }
const cluster: RedisDiagnosisContext = { topology: 'cluster', commandTimeoutMs: 1500 }
const failure = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code })

t.test('replies that mean this Redis cannot serve the gateway are problems, each with its cause and a hint', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['NOPERM User limited has no permissions to run the \'eval\' command', 'permission', /ACL SETUSER <user> .*\+eval .*~openim-gateway:\*/],
    ['ERR The user executing the script can\'t run this command or subcommand script: b652620c, on @user_script:1.', 'permission', /ACL SETUSER/],
    ['MOVED 3999 127.0.0.1:6381', 'topology', /REDIS_URL points at a Redis Cluster node: list the cluster's nodes in REDIS_CLUSTER_NODES/],
    ['ASK 3999 127.0.0.1:6381', 'topology', /REDIS_CLUSTER_NODES/],
    ['CROSSSLOT Keys in request don\'t hash to the same slot', 'topology', /REDIS_CLUSTER_NODES/],
    ['CLUSTERDOWN The cluster is down', 'topology', /REDIS_CLUSTER_NODES/],
    ['ERR unknown command \'eval\', with args beginning with: \'local current\' \'1\' ', 'unsupported', /does not offer a command the gateway runs/],
    ['NOSCRIPT No matching script. Please use EVAL.', 'unsupported', /Lua scripts \(EVAL\)/],
    ['WRONGPASS invalid username-password pair or user is disabled.', 'authentication', /REDIS_URL .* or REDIS_USERNAME\/REDIS_PASSWORD/],
    ['LOADING Redis is loading the dataset in memory', 'busy', /by itself/],
    ['BUSY Redis is busy running a script.', 'busy', /by itself/]
  ]
  for (const [message, cause, hint] of cases) {
    t.match(unusableRedis(reply(message), standalone), { cause, reason: message.split(', with')[0], hint, scope: 'all' }, message)
  }
  t.equal(unusableRedis(reply('MOVED 3999 127.0.0.1:6381'), standalone)?.lasting, true, 'a Cluster node behind REDIS_URL stays a problem')
  t.match(unusableRedis(reply('WRONGPASS invalid username-password pair'), sentinel), { hint: /REDIS_SENTINEL_USERNAME\/REDIS_SENTINEL_PASSWORD/ })
})

t.test('replies refusing writes only leave reads running', async (t) => {
  t.match(unusableRedis(reply('OOM command not allowed when used memory > \'maxmemory\'. script: 4f93, on @user_script:1.'), standalone),
    { cause: 'full', scope: 'writes', hint: /maxmemory with noeviction/ })
  t.match(unusableRedis(reply('READONLY You can\'t write against a read only replica.'), standalone), { cause: 'read-only', scope: 'writes', hint: /point it at the primary/ })
  t.match(unusableRedis(reply('READONLY You can\'t write against a read only replica.'), sentinel), { scope: 'writes', hint: /asks the sentinels for the new one/ })
  t.match(unusableRedis(reply('NOREPLICAS Not enough good replicas to write.'), sentinel), { scope: 'writes', hint: /min-replicas-to-write/ },
    'a primary cut off from its replicas (min-replicas-to-write), as an old primary partitioned away is')
})

t.test('in a Cluster, redirections are ioredis\'s business; a cluster without a primary for some slots is busy', async (t) => {
  t.equal(unusableRedis(reply('CROSSSLOT Keys in request don\'t hash to the same slot'), cluster), undefined)
  t.match(unusableRedis(reply('CLUSTERDOWN The cluster is down'), cluster), { cause: 'busy', hint: /promoted/ })
})

t.test('a command\'s own errors are not: the caller falls back for that request only', async (t) => {
  for (const message of ['WRONGTYPE Operation against a key holding the wrong kind of value', 'ERR value is not an integer or out of range', 'ERR user_script:1: Script attempted to access nonexistent global variable \'x\'']) {
    t.equal(unusableRedis(reply(message), standalone), undefined, message)
  }
})

t.test('no reply at all is a problem named by its cause: refused, timed out, unresolved, TLS, closed, another topology', async (t) => {
  const cases: Array<[Error, RedisDiagnosisContext, string, RegExp]> = [
    [failure('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'), standalone, 'refused', /nothing listens at REDIS_URL's address/],
    [failure('Command timed out'), cluster, 'timeout', /within 1500 ms \(REDIS_COMMAND_TIMEOUT_MS\)/],
    [failure('connect ETIMEDOUT', 'ETIMEDOUT'), standalone, 'timeout', /firewall/],
    [failure('getaddrinfo ENOTFOUND redis.internal', 'ENOTFOUND'), standalone, 'dns', /REDIS_URL's host name does not resolve/],
    [failure('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), standalone, 'tls', /REDIS_TLS_CA_FILE/],
    [failure('Hostname/IP does not match certificate\'s altnames: IP: 10.0.0.5 is not in the cert\'s list: 127.0.0.1', 'ERR_TLS_CERT_ALTNAME_INVALID'), sentinel, 'tls', /REDIS_TLS_SERVERNAME/],
    [failure('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET'), standalone, 'tls', /TLS/],
    [failure('Connection is closed.'), standalone, 'closed', /rediss:\/\/ or REDIS_TLS=true/],
    [failure('Ready check failed: NOAUTH Authentication required.'), standalone, 'authentication', /REDIS_URL/],
    [failure('All sentinels are unreachable. Retrying from scratch after 100ms. Last error: connect ECONNREFUSED 127.0.0.1:26379'), sentinel, 'refused', /REDIS_SENTINELS/],
    [failure('failed to connect to sentinel 127.0.0.1:6379 because ERR unknown command \'sentinel\', with args beginning with: \'get-master-addr-by-name\''), sentinel, 'topology', /no sentinel/],
    [failure('connected to sentinel 127.0.0.1:26379 successfully, but got an invalid reply: null'), sentinel, 'topology', /REDIS_SENTINEL_MASTER/],
    [Object.assign(failure('Failed to refresh slots cache.'), { lastNodeError: reply('ERR This instance has cluster support disabled') }), cluster, 'topology', /REDIS_CLUSTER_NODES lists a Redis that is no cluster node: use REDIS_URL/]
  ]
  for (const [error, context, cause, hint] of cases) t.match(connectionProblem(error, context), { cause, hint, scope: 'all' }, error.message)
})

t.test('the text logged never holds the arguments Redis echoes back, nor a configured secret', async (t) => {
  t.equal(redisErrorText(reply('ERR unknown command \'set\', with args beginning with: \'token:alice:5\' \'eyJhbGciOi.x.y\' ')), 'ERR unknown command \'set\'')
  t.equal(redisErrorText(new Error('first line\nsecond line')), 'first line')
  t.equal(connectionProblem(failure('AUTH failed for s3cret-pw'), { ...standalone, secrets: ['s3cret-pw'] }).reason, 'AUTH failed for <redacted>')
})

t.test('an outcome is unknown only for a command that was sent and got no reply', async (t) => {
  t.equal(outcomeUnknown(new Error('Command timed out')), true)
  t.equal(outcomeUnknown(new Error('Connection is closed.')), true)
  t.equal(outcomeUnknown(reply('OOM command not allowed')), false, 'a reply is an outcome')
  t.equal(outcomeUnknown(new Error('Stream isn\'t writeable and enableOfflineQueue options is false')), false, 'never sent')
})
