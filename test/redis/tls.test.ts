import t from 'tap'
import { SharedRedis } from '../../src/redis/shared-redis.js'
import { SECRET, buildGateway, provision, startOpenIm } from '../helper.js'
import { TLS_FILES, redisSettings, skipWithoutRedis, startRedis } from '../redis.js'

// Redis over TLS (rediss://, or REDIS_TLS=true), with a CA of its own, a client certificate, and each way it can
// fail named as a TLS problem with the variable that fixes it.

const serverTls = { cert: TLS_FILES.server, key: TLS_FILES['server-key'], ca: TLS_FILES.ca }

async function degradedBecause (t: { teardown (fn: () => unknown): void }, env: Record<string, string>) {
  const lines: Array<{ details: Record<string, unknown>, message: string }> = []
  const redis = await SharedRedis.connect({
    settings: redisSettings(env),
    secret: SECRET,
    log: { error: (details, message) => lines.push({ details: details as Record<string, unknown>, message }), warn () {} }
  })
  t.teardown(() => redis.close())
  return { available: redis.available, details: lines[0]?.details }
}

t.test('rediss:// with the CA that signed the server\'s certificate: tokens shared through it', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, [], serverTls)
  const emulator = await startOpenIm(t)
  const env = { REDIS_URL: server.url, REDIS_TLS_CA_FILE: TLS_FILES.ca }
  const [a, b] = [await buildGateway(t, emulator.url, env), await buildGateway(t, emulator.url, env)]
  t.equal(a.app.redis?.available, true)
  const first = (await provision(a.app, { userID: 'tess', platformID: 5 })).json()
  t.match((await provision(b.app, { userID: 'tess', platformID: 5 })).json(), { reused: true, token: first.token })
})

t.test('a server that asks for a client certificate: served with REDIS_TLS_CERT_FILE/KEY_FILE, refused without', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, [], { ...serverTls, authClients: true })
  const env = { REDIS_URL: server.url, REDIS_TLS_CA_FILE: TLS_FILES.ca }
  t.match(await degradedBecause(t, { ...env, REDIS_TLS_CERT_FILE: TLS_FILES.client, REDIS_TLS_KEY_FILE: TLS_FILES['client-key'] }), { available: true })
  const without = await degradedBecause(t, env)
  t.equal(without.available, false)
  t.match(without.details, { cause: /tls|closed/, hint: /REDIS_TLS_CERT_FILE|rediss/ })
})

t.test('each TLS failure is named as such, with the variable to change', async (t) => {
  if (skipWithoutRedis(t)) return
  const server = await startRedis(t, [], serverTls)
  t.match(await degradedBecause(t, { REDIS_URL: server.url }), { available: false, details: { cause: 'tls', reason: /self[- ]signed|certificate/, hint: /REDIS_TLS_CA_FILE/ } },
    'no CA: the server\'s certificate is not trusted')
  t.match(await degradedBecause(t, { REDIS_URL: server.url, REDIS_TLS_CA_FILE: TLS_FILES.ca, REDIS_TLS_SERVERNAME: 'redis.example.com' }),
    { available: false, details: { cause: 'tls', hint: /REDIS_TLS_SERVERNAME/ } }, 'a name the certificate does not hold')
  t.match(await degradedBecause(t, { REDIS_URL: server.url.replace('rediss://', 'redis://') }),
    { available: false, details: { cause: 'closed', hint: /rediss:\/\/ or REDIS_TLS=true/ } }, 'plain TCP to a TLS port')
})
