// Prefixed, time-sortable ids (`app_`, `ep_`, `msg_`, `atmpt_`…). Pagination and `before`/`after`
// filters rely on ids sorting by creation time, so the layout follows KSUID with millisecond precision.
import { randomFillSync } from 'node:crypto';

/** Seconds between the Unix epoch and the KSUID epoch (2014-05-13). */
const KSUID_EPOCH_SECONDS = 1_400_000_000;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 20 bytes in base62 always fit in 27 characters. */
const ENCODED_LENGTH = 27;

/** Every id prefix Tapwire issues. */
export type IdPrefix = 'app' | 'ep' | 'msg' | 'atmpt' | 'msgep' | 'qtask' | 'tok';

let lastBytes: Buffer | null = null;

/** Random bytes are drawn from the OS in blocks: one call per id was a measurable cost per message. */
const RANDOM_POOL = Buffer.alloc(15 * 256);
let randomOffset = RANDOM_POOL.length;

/** Copy 15 fresh random bytes into `target` at `offset`. */
function fillRandom15(target: Buffer, offset: number): void {
  if (randomOffset + 15 > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  RANDOM_POOL.copy(target, offset, randomOffset, randomOffset + 15);
  randomOffset += 15;
}

/**
 * A new 27-character KSUID-ms: 4 bytes of seconds since the KSUID epoch, 1 byte of sub-second time
 * (4 ms steps), 15 random bytes. Ids made in the same 4 ms step by this process are made strictly
 * increasing by incrementing the previous one, so they sort in creation order.
 */
export function newKsuid(nowMs: number = Date.now()): string {
  const bytes = Buffer.alloc(20);
  const seconds = Math.floor(nowMs / 1000) - KSUID_EPOCH_SECONDS;
  bytes.writeUInt32BE(Math.max(0, seconds), 0);
  bytes[4] = Math.floor((nowMs % 1000) / 4);
  fillRandom15(bytes, 5);
  if (lastBytes && Buffer.compare(bytes.subarray(0, 5), lastBytes.subarray(0, 5)) <= 0) {
    // Same (or earlier, after a clock step back) time slot: continue after the last id.
    lastBytes.copy(bytes);
    for (let i = 19; i >= 0; i--) {
      bytes[i] = (bytes[i]! + 1) & 0xff;
      if (bytes[i] !== 0) break;
    }
  }
  lastBytes = bytes;
  return encodeBase62(bytes);
}

/** A new prefixed id such as `msg_2Nq…`. */
export function newId(prefix: IdPrefix, nowMs?: number): string {
  return `${prefix}_${newKsuid(nowMs)}`;
}

/**
 * The smallest id of `prefix` that could have been created at `ms`; used to turn a time into an
 * id range bound.
 */
export function idFloorAt(prefix: IdPrefix, ms: number): string {
  const bytes = Buffer.alloc(20);
  bytes.writeUInt32BE(Math.max(0, Math.floor(ms / 1000) - KSUID_EPOCH_SECONDS), 0);
  bytes[4] = Math.floor((ms % 1000) / 4);
  return `${prefix}_${encodeBase62(bytes)}`;
}

/** The creation time encoded in a KSUID-ms id (with or without prefix), to 4 ms. */
export function timeOfId(id: string): Date | null {
  const raw = id.includes('_') ? id.slice(id.lastIndexOf('_') + 1) : id;
  const bytes = decodeBase62(raw);
  if (!bytes) return null;
  const seconds = bytes.readUInt32BE(0) + KSUID_EPOCH_SECONDS;
  return new Date(seconds * 1000 + (bytes[4]! * 4));
}

/** True when `value` looks like an id we issued with this prefix. */
export function isIdOf(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && /^[0-9A-Za-z]{27}$/.test(value.slice(prefix.length + 1));
}

/** 20 bytes as 27 base-62 characters, most significant first (exported for its tests). */
export function encodeBase62(bytes: Buffer): string {
  // Long division of the 160-bit number by 62, one base-62 digit per pass, on five 32-bit words
  // held in plain numbers (each partial dividend stays below 2^38, exact in a double): about ten
  // times cheaper than BigInt arithmetic, and ids are made several times per message.
  const words = [bytes.readUInt32BE(0), bytes.readUInt32BE(4), bytes.readUInt32BE(8), bytes.readUInt32BE(12), bytes.readUInt32BE(16)];
  const out = new Array<string>(ENCODED_LENGTH);
  for (let position = ENCODED_LENGTH - 1; position >= 0; position--) {
    let remainder = 0;
    for (let i = 0; i < 5; i++) {
      const dividend = remainder * 0x1_0000_0000 + words[i]!;
      const quotient = Math.floor(dividend / 62);
      remainder = dividend - quotient * 62;
      words[i] = quotient;
    }
    out[position] = ALPHABET[remainder]!;
  }
  return out.join('');
}

function decodeBase62(text: string): Buffer | null {
  if (!/^[0-9A-Za-z]{27}$/.test(text)) return null;
  let n = 0n;
  for (const ch of text) n = n * 62n + BigInt(ALPHABET.indexOf(ch));
  const hex = n.toString(16).padStart(40, '0');
  if (hex.length > 40) return null;
  return Buffer.from(hex, 'hex');
}
