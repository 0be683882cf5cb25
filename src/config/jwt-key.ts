import { createPublicKey, type KeyObject } from 'node:crypto'
import { fail } from './shared.js'

// jose checks a key against a token's algorithm only when a token arrives, where a key that cannot serve an
// accepted algorithm turns every such token into a 401 "malformed", or a start-up crash for the first one.
// The same rules are checked here once, so a wrong JWT_PUBLIC_KEY or JWT_ALGORITHMS stops the start with a
// message naming them: RSA of 2048 bits or more for RS*/PS*, the algorithm's own curve for ES*, Ed25519 for
// EdDSA (jose 6 knows no other EdDSA curve). jose refuses RSA-PSS-only keys too; test/config/jwt-key.test.ts
// checks that this table and jose agree.
const CURVES: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }
const MIN_RSA_BITS = 2048

function keyFits (key: KeyObject, algorithm: string): boolean {
  const type = key.asymmetricKeyType
  if (algorithm.startsWith('RS') || algorithm.startsWith('PS')) return type === 'rsa'
  if (algorithm.startsWith('ES')) return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVES[algorithm]
  return algorithm === 'EdDSA' && type === 'ed25519'
}

function describe (key: KeyObject): string {
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = key
  if (type === 'rsa') return `an RSA key (${details?.modulusLength ?? '?'} bits)`
  if (type === 'ec') return `an EC key on curve ${CURVE_NAMES[details?.namedCurve ?? ''] ?? details?.namedCurve ?? '?'}`
  return `a key of type ${type ?? 'unknown'}`
}

/** The algorithms a key can verify, for the message that says what to set instead. */
function algorithmsFor (key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256, RS384, RS512, PS256, PS384 or PS512'
  const es = Object.entries(CURVES).find(([, curve]) => curve === key.asymmetricKeyDetails?.namedCurve)?.[0]
  if (key.asymmetricKeyType === 'ec' && es !== undefined) return es
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  return 'none'
}

/**
 * JWT_PUBLIC_KEY as a key jose verifies with (jose derives one per algorithm from it, so RS256,PS256 share
 * an RSA key), after checking that it serves every algorithm JWT_ALGORITHMS lists.
 */
export function publicKeyFor (pem: string, algorithms: string[]): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey({ key: pem, format: 'pem' })
  } catch {
    // Node's message may quote the PEM's contents; the key is public, but a pasted private key would not be.
    return fail('JWT_PUBLIC_KEY is not a PEM public key that can be read ' +
      '("-----BEGIN PUBLIC KEY-----", base64, "-----END PUBLIC KEY-----")')
  }
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    fail(`JWT_PUBLIC_KEY is ${describe(key)}: RSA signatures need a key of ${MIN_RSA_BITS} bits or more`)
  }
  const unusable = algorithms.filter((algorithm) => !keyFits(key, algorithm))
  if (unusable.length > 0) {
    const usable = algorithmsFor(key)
    fail(`JWT_ALGORITHMS lists ${unusable.join(', ')}, which JWT_PUBLIC_KEY (${describe(key)}) cannot verify: ` +
      (usable === 'none'
        ? 'use an RSA, EC (P-256, P-384, P-521) or Ed25519 key'
        : `list only ${usable} (one PEM is one key; for keys of several kinds use JWT_JWKS_URL)`))
  }
  return key
}
