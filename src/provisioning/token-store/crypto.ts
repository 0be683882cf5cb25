import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { pairKey, type TokenPair } from './store.js'

// OpenIM keeps its tokens in plaintext in its Redis (UID_PID_TOKEN_STATUS:<user>:<platform>); ours are not
// readable there. Two keys derived apart from the OpenIM secret (HKDF-SHA256, distinct info strings): one
// encrypts values (AES-256-GCM, a fresh 96-bit IV each, the pair bound as associated data, so a value moved
// to another pair's key does not open), the other names keys (HMAC-SHA256 of the pair, so key names carry no
// userID). A new secret makes every old entry unreadable, as it makes every old token invalid.
const SALT = Buffer.from('openim-gateway token store')
const ENCRYPTION_INFO = 'openim-gateway token-store value encryption v1'
const NAMING_INFO = 'openim-gateway token-store key naming v1'
const IV_BYTES = 12
const TAG_BYTES = 16

export class TokenSealer {
  private readonly encryptionKey: Buffer
  private readonly namingKey: Buffer

  constructor (secret: string) {
    const material = Buffer.from(secret, 'utf8')
    this.encryptionKey = Buffer.from(hkdfSync('sha256', material, SALT, ENCRYPTION_INFO, 32))
    this.namingKey = Buffer.from(hkdfSync('sha256', material, SALT, NAMING_INFO, 32))
  }

  /** A name for something about the pair (its token, its mint lock) that says nothing about the pair. */
  name (prefix: string, pair: TokenPair): string {
    return prefix + createHmac('sha256', this.namingKey).update(pairKey(pair)).digest('base64url')
  }

  seal (pair: TokenPair, plaintext: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv)
    cipher.setAAD(Buffer.from(pairKey(pair), 'utf8'))
    const sealed = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return sealed.toString('base64url')
  }

  /** The plaintext, or undefined when the value was sealed with another key, for another pair, or altered. */
  open (pair: TokenPair, sealed: string): string | undefined {
    const bytes = Buffer.from(sealed, 'base64url')
    if (bytes.length < IV_BYTES + TAG_BYTES) return undefined
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, bytes.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(pairKey(pair), 'utf8'))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}
