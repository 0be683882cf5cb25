import t from 'tap'
import { ReplyError } from 'ioredis'
import { redisErrorText, unusableRedis } from '../../src/redis/replies.js'

// Replies as Redis 7 words them (from redis-server and redis-cli on this machine, and Redis's sources for the
// cluster ones), as ioredis hands them over.
const reply = (message: string) => new ReplyError(message)

t.test('replies that mean this Redis cannot serve the gateway are problems, each with a hint', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['NOPERM User limited has no permissions to run the \'eval\' command', /ACL SETUSER <user> \+eval/],
    ['NOPERM No permissions to access a key', /~openim-gateway:\*/],
    ['MOVED 3999 127.0.0.1:6381', /Redis Cluster/],
    ['ASK 3999 127.0.0.1:6381', /Redis Cluster/],
    ['CROSSSLOT Keys in request don\'t hash to the same slot', /Redis Cluster/],
    ['CLUSTERDOWN The cluster is down', /Redis Cluster/],
    ['ERR unknown command \'eval\', with args beginning with: \'local current\' \'1\' ', /does not offer a command the gateway runs/],
    ['NOSCRIPT No matching script. Please use EVAL.', /Lua scripts|EVAL/],
    ['READONLY You can\'t write against a read only replica.', /primary/],
    ['OOM command not allowed when used memory > \'maxmemory\'.', /maxmemory/],
    ['LOADING Redis is loading the dataset in memory', /by itself/],
    ['BUSY Redis is busy running a script.', /by itself/]
  ]
  for (const [message, hint] of cases) t.match(unusableRedis(reply(message)), { reason: message.split(',')[0], hint }, message)
})

t.test('a command\'s own errors are not: the caller falls back for that request only', async (t) => {
  for (const message of ['WRONGTYPE Operation against a key holding the wrong kind of value', 'ERR value is not an integer or out of range', 'ERR user_script:1: Script attempted to access nonexistent global variable \'x\'']) {
    t.equal(unusableRedis(reply(message)), undefined, message)
  }
})

t.test('no reply at all (a timeout, a closed connection) is a problem', async (t) => {
  t.match(unusableRedis(new Error('Command timed out')), { reason: 'Command timed out', hint: /reachable/ })
  t.match(unusableRedis(new Error('Connection is closed.')), { reason: 'Connection is closed.' })
})

t.test('the text logged never holds the arguments Redis echoes back, which may be the values being written', async (t) => {
  t.equal(redisErrorText(reply('ERR unknown command \'set\', with args beginning with: \'token:alice:5\' \'eyJhbGciOi.x.y\' ')), 'ERR unknown command \'set\'')
  t.equal(redisErrorText(new Error('first line\nsecond line')), 'first line')
})
