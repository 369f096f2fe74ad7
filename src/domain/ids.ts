// Prefixed, time-sortable ids (`app_`, `ep_`, `msg_`, `atmpt_`…). Pagination and `before`/`after`
// filters rely on ids sorting by creation time, so the layout follows KSUID with millisecond precision.
import { randomFillSync } from 'node:crypto';

/** Seconds between the Unix epoch and the KSUID epoch (2014-05-13). */
const KSUID_EPOCH_SECONDS = 1_400_000_000;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 20 bytes in base62 always fit in 27 characters. */
const ENCODED_LENGTH = 27;

/** Every id prefix Tapwire issues. */
export type IdPrefix = 'app' | 'ep' | 'msg' | 'atmpt' | 'msgep' | 'qtask' | 'tok' | 'integ' | 'src';

/** The last id's bytes (time slot and random part), or all zero before the first. */
const lastBytes = Buffer.alloc(20);
/** The id being made; encodeBase62 reads it before the next call writes it again. */
const nextBytes = Buffer.alloc(20);

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

/** Whether the time slot (the first 5 bytes) of `a` is after that of `b`. */
function laterSlot(a: Buffer, b: Buffer): boolean {
  for (let i = 0; i < 5; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/**
 * A new 27-character KSUID-ms: 4 bytes of seconds since the KSUID epoch, 1 byte of sub-second time
 * (4 ms steps), 15 random bytes. Ids made in the same 4 ms step by this process are made strictly
 * increasing by incrementing the previous one, so they sort in creation order.
 */
export function newKsuid(nowMs: number = Date.now()): string {
  const bytes = nextBytes;
  const seconds = Math.floor(nowMs / 1000) - KSUID_EPOCH_SECONDS;
  bytes.writeUInt32BE(Math.max(0, seconds), 0);
  bytes[4] = Math.floor((nowMs % 1000) / 4);
  if (laterSlot(bytes, lastBytes)) {
    fillRandom15(bytes, 5);
  } else {
    // Same (or earlier, after a clock step back) time slot: continue after the last id.
    lastBytes.copy(bytes);
    for (let i = 19; i >= 0; i--) {
      bytes[i] = (bytes[i]! + 1) & 0xff;
      if (bytes[i] !== 0) break;
    }
  }
  bytes.copy(lastBytes);
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
  let w0 = bytes.readUInt32BE(0);
  let w1 = bytes.readUInt32BE(4);
  let w2 = bytes.readUInt32BE(8);
  let w3 = bytes.readUInt32BE(12);
  let w4 = bytes.readUInt32BE(16);
  let out = '';
  for (let position = 0; position < ENCODED_LENGTH; position++) {
    let dividend = w0;
    w0 = Math.floor(dividend / 62);
    dividend = (dividend - w0 * 62) * 0x1_0000_0000 + w1;
    w1 = Math.floor(dividend / 62);
    dividend = (dividend - w1 * 62) * 0x1_0000_0000 + w2;
    w2 = Math.floor(dividend / 62);
    dividend = (dividend - w2 * 62) * 0x1_0000_0000 + w3;
    w3 = Math.floor(dividend / 62);
    dividend = (dividend - w3 * 62) * 0x1_0000_0000 + w4;
    w4 = Math.floor(dividend / 62);
    out = ALPHABET[dividend - w4 * 62]! + out;
  }
  return out;
}

function decodeBase62(text: string): Buffer | null {
  if (!/^[0-9A-Za-z]{27}$/.test(text)) return null;
  let n = 0n;
  for (const ch of text) n = n * 62n + BigInt(ALPHABET.indexOf(ch));
  const hex = n.toString(16).padStart(40, '0');
  if (hex.length > 40) return null;
  return Buffer.from(hex, 'hex');
}
