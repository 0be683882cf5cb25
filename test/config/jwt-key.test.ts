import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { errors as joseErrors, jwtVerify } from 'jose'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config/index.js'

// JWT_PUBLIC_KEY is read and checked against JWT_ALGORITHMS when the configuration loads, so a key that cannot
// serve an accepted algorithm stops the start with a message, instead of a crash or a 401 for every token.

const base = { OPENIM_API_URL: 'http://openim-server:10002', OPENIM_SECRET: 's3cret', JWT_AUDIENCE: 'chat' }
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString()

const keys: Record<string, KeyObject> = {
  'RSA 2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
  'RSA 1024': generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
  'RSA-PSS 2048': generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey,
  'EC P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
  'EC P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  'EC P-521': generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey,
  'EC secp256k1': generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
  Ed25519: generateKeyPairSync('ed25519').publicKey,
  Ed448: generateKeyPairSync('ed448').publicKey
}
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

/** Whether jose verifies tokens of this algorithm with this key: a token with a wrong signature then fails on the signature, not on the key. */
async function joseAccepts (key: KeyObject, algorithm: string): Promise<boolean> {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const token = `${encode({ alg: algorithm })}.${encode({ sub: 'x' })}.${Buffer.alloc(64).toString('base64url')}`
  try {
    await jwtVerify(token, key, { algorithms: [algorithm] })
    throw new Error('a zero signature verified')
  } catch (error) {
    return error instanceof joseErrors.JWSSignatureVerificationFailed
  }
}

t.test('the configuration accepts exactly the key and algorithm pairs jose can verify', async (t) => {
  for (const [name, key] of Object.entries(keys)) {
    for (const algorithm of ALGORITHMS) {
      const env = { ...base, JWT_PUBLIC_KEY: pem(key), JWT_ALGORITHMS: algorithm }
      if (await joseAccepts(key, algorithm)) {
        t.doesNotThrow(() => loadConfig(env), `${name} with ${algorithm}`)
      } else {
        t.throws(() => loadConfig(env), { constructor: ConfigError, message: /JWT_PUBLIC_KEY/ }, `${name} with ${algorithm}`)
      }
    }
  }
})

t.test('every listed algorithm must fit the key, and the message says what to list', async (t) => {
  const rsa = pem(keys['RSA 2048']!)
  const p256 = pem(keys['EC P-256']!)
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ JWT_PUBLIC_KEY: rsa, JWT_ALGORITHMS: 'ES256' }, /JWT_ALGORITHMS lists ES256, which JWT_PUBLIC_KEY \(an RSA key \(2048 bits\)\) cannot verify: list only RS256, .*PS512/],
    [{ JWT_PUBLIC_KEY: rsa, JWT_ALGORITHMS: 'RS256,ES256' }, /lists ES256,.*for keys of several kinds use JWT_JWKS_URL/],
    [{ JWT_PUBLIC_KEY: p256 }, /JWT_ALGORITHMS lists RS256, which JWT_PUBLIC_KEY \(an EC key on curve P-256\) cannot verify: list only ES256 /],
    [{ JWT_PUBLIC_KEY: p256, JWT_ALGORITHMS: 'ES256,ES384' }, /lists ES384,/],
    [{ JWT_PUBLIC_KEY: pem(keys['RSA 1024']!) }, /JWT_PUBLIC_KEY is an RSA key \(1024 bits\): RSA signatures need a key of 2048 bits or more/],
    [{ JWT_PUBLIC_KEY: pem(keys.Ed448!), JWT_ALGORITHMS: 'EdDSA' }, /a key of type ed448.*use an RSA, EC \(P-256, P-384, P-521\) or Ed25519 key/],
    [{ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----' }, /JWT_PUBLIC_KEY is not a PEM public key that can be read/]
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig({ ...base, ...env }), { constructor: ConfigError, message }, String(message))

  t.equal(loadConfig({ ...base, JWT_PUBLIC_KEY: rsa, JWT_ALGORITHMS: 'RS256,PS256' }).auth.jwt?.source.kind, 'publicKey', 'one RSA key serves RS* and PS*')
  t.same(loadConfig({ ...base, JWT_PUBLIC_KEY: p256, JWT_ALGORITHMS: 'ES256' }).auth.jwt?.algorithms, ['ES256'])
  t.equal(loadConfig({ ...base, JWT_PUBLIC_KEY: rsa.trim().replaceAll('\n', '\\n') }).auth.jwt?.source.kind, 'publicKey', 'with \\n escapes')
})
