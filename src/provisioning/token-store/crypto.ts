import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { pairKey, type TokenPair } from './store.js'

// OpenIM keeps its tokens in plaintext in its Redis (UID_PID_TOKEN_STATUS:<user>:<platform>); ours are not
// readable there. Values are encrypted with a key derived from the OpenIM secret (HKDF-SHA256; AES-256-GCM, a
// fresh 96-bit IV each, the pair bound as associated data, so a value moved to another pair's key does not
// open); key names come from another derived key (src/redis/key-names.ts). A new secret makes every old entry
// unreadable, as it makes every old token invalid. The previous release sealed the same way: its entries open.
const SALT = Buffer.from('openim-gateway token store')
const ENCRYPTION_INFO = 'openim-gateway token-store value encryption v1'
const IV_BYTES = 12
const TAG_BYTES = 16

export class TokenSealer {
  private readonly encryptionKey: Buffer

  constructor (secret: string) {
    this.encryptionKey = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, ENCRYPTION_INFO, 32))
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
