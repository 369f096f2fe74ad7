// Secrets at rest: endpoint signing secrets (current and previous) and custom header values are stored
// sealed with AES-256-GCM (node:crypto) under TAPWIRE_ENCRYPTION_KEY, so the database file and its
// backups do not hold them in clear. Several keys rotate: the first seals, every one opens.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

import { TapwireError } from '../../errors/tapwire-error.js';

/** Seals a value for storage and opens it again. Values stored before sealing was on open as they are. */
export interface SecretSealer {
  seal(plain: string): string;
  open(stored: string): string;
  /** Whether `stored` is sealed with the key that seals now (nothing to redo). */
  isCurrent(stored: string): boolean;
}

/** No sealing: values are stored as given (no key configured). */
export const PLAINTEXT: SecretSealer = { seal: (value) => value, open: (value) => value, isCurrent: () => true };

/** Marks a sealed value: `tw1:<key id>:<base64url of iv, tag and ciphertext>`. */
const PREFIX = 'tw1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A short, stable name of a key (not secret: the first bytes of its SHA-256), stored with each value. */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** AES-256-GCM with a ring of 32-byte keys: the first seals, any opens (by the key id in the value). */
export class SecretBox implements SecretSealer {
  private readonly sealing: { id: string; key: Buffer };
  private readonly byId: Map<string, Buffer>;

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    for (const key of keys) if (key.length !== 32) throw new Error('encryption keys are 32 bytes');
    this.byId = new Map(keys.map((key) => [keyIdOf(key), key]));
    this.sealing = { id: keyIdOf(keys[0]!), key: keys[0]! };
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealing.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.sealing.id}:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
  }

  isCurrent(stored: string): boolean {
    return stored.startsWith(`${PREFIX}${this.sealing.id}:`);
  }

  open(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [id, packed] = stored.slice(PREFIX.length).split(':', 2);
    const key = this.byId.get(id ?? '');
    if (!key || packed === undefined) {
      throw new TapwireError('store_unavailable', { detail: `A stored secret is sealed with key ${id}, which TAPWIRE_ENCRYPTION_KEY does not hold` });
    }
    const bytes = Buffer.from(packed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new TapwireError('store_unavailable', { detail: `A stored secret sealed with key ${id} does not open: it was changed or the key is wrong`, cause: error });
    }
  }
}

/** A sealer for these keys; no keys: PLAINTEXT. */
export function sealerFor(keys: readonly Buffer[] | null | undefined): SecretSealer {
  return keys && keys.length > 0 ? new SecretBox(keys) : PLAINTEXT;
}

/** A new random key, as TAPWIRE_ENCRYPTION_KEY takes it (base64 of 32 bytes). */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * TAPWIRE_ENCRYPTION_KEY: base64 of 32 bytes, or several separated by commas (the first seals, all
 * open). Throws an Error saying what is wrong with the value (it never repeats a key).
 */
export function parseEncryptionKeys(value: string): Buffer[] {
  const parts = value.split(',').map((part) => part.trim());
  return parts.map((part, index) => {
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(part) ? Buffer.from(part, 'base64') : null;
    if (!key || key.length !== 32 || key.toString('base64') !== part) {
      throw new Error(`key ${index + 1} of ${parts.length} is not base64 of 32 bytes (make one with: tapwire key generate)`);
    }
    return key;
  });
}
