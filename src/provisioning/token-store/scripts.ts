import { checkKey } from '../../redis/key-names.js'
import type { RedisCheck } from '../../redis/shared-redis.js'

// The Lua scripts behind the token store and its mint lock. Each takes one pair's keys, which share a slot (the
// user's hash tag), so each is one round trip on every topology. KEYS are the pair's token and lock, followed, on
// standalone and Sentinel during an upgrade, by the previous release's token and lock names (key-names.ts):
// replicas of both releases then see each other's tokens and locks. Sent as EVAL, not EVALSHA: a NOSCRIPT
// fallback would cost a second round trip.

/**
 * Look: the pair's remembered token (ARGV[3] = '1'; the previous release's name is read when the new one is
 * empty), else its mint lock for holder ARGV[1] for ARGV[2] ms. Taking it again for the same holder renews it,
 * so a flow that does not know whether its last attempt took the lock (a timeout) simply asks again. A lock
 * with no expiry (written by hand, or PERSISTed) or of another type would block the pair forever: it is taken
 * over, and said so (so is a token key of another type: deleted, a miss). The pair's own lock is set before the
 * previous release's, so a write refused halfway (OOM) leaves at most a lock of this holder, which it releases.
 * Returns {'token', value} | {'mine', ''|'no-expiry'|'wrong-type'} | {'held'}.
 */
export const LOOK = `
if ARGV[3] == '1' then
  for i = 1, 3, 2 do
    if KEYS[i] then
      local value = redis.pcall('GET', KEYS[i])
      if type(value) == 'table' then redis.call('DEL', KEYS[i]) elseif value then return {'token', value} end
    end
  end
end
local repaired = ''
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind == 'string' then
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then
    if redis.call('PTTL', KEYS[2]) >= 0 then return {'held'} end
    repaired = 'no-expiry'
  end
elseif kind ~= 'none' then
  redis.call('DEL', KEYS[2])
  repaired = 'wrong-type'
end
if KEYS[4] then
  local other = redis.call('GET', KEYS[4])
  if other and other ~= ARGV[1] then return {'held'} end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if KEYS[4] then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2]) end
return {'mine', repaired}`

/**
 * Remember: the sealed token ARGV[1] for ARGV[2] ms, and the locks released if holder ARGV[3] holds them, in
 * one go (so a waiter finds the token, never the lock free without it). ARGV[4] = '1' writes the previous
 * release's name too (while replicas of it may run), '0' deletes it (it would hold an older token).
 * ARGV[5] = '1' writes only over a token that expires sooner (a token minted while Redis was unavailable,
 * written back: a newer one another replica minted since wins).
 */
export const REMEMBER = `
if ARGV[5] == '1' then
  local left = redis.call('PTTL', KEYS[1])
  if left >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if KEYS[3] then
  if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2]) else redis.call('DEL', KEYS[3]) end
end
for i = 2, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[3] then redis.call('DEL', KEYS[i]) end
end
return 1`

/** Renew: the locks KEYS (the pair's, and the previous release's) for ARGV[2] more ms, if holder ARGV[1] holds them. */
export const RENEW = `
for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder ~= ARGV[1] and (i == 1 or holder) then return 0 end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 1`

/** Release: the locks KEYS that holder ARGV[1] holds. */
export const RELEASE = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1`

/** Forget a stale token: each of KEYS still holding the value ARGV[1] that was read (values differ by their random IVs). */
export const FORGET_IF_UNCHANGED = `
local forgotten = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then forgotten = forgotten + redis.call('DEL', KEYS[i]) end
end
return forgotten`

/** What the token store and the lock run, on throw-away keys: SharedRedis and npm run doctor check a Redis lets them. */
export const tokenStoreRedisCheck: RedisCheck = {
  what: 'the token store and mint lock (their scripts)',
  async run (client) {
    const keys = [checkKey('token'), checkKey('lock')]
    await client.eval(LOOK, 2, ...keys, 'check', 1000, '1')
    await client.eval(RENEW, 1, keys[1]!, 'check', 1000)
    await client.eval(REMEMBER, 2, ...keys, 'sealed', 1000, 'check', '0', '0')
    await client.eval(FORGET_IF_UNCHANGED, 1, keys[0]!, 'sealed')
    await client.eval(RELEASE, 1, keys[1]!, 'check')
  }
}
