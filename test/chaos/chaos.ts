// What every hostile-conditions suite shares: the size knob (TAPWIRE_CHAOS=full for the long run,
// short by default so `npm test` includes every suite), a seeded PRNG whose seed is printed and can
// be replayed with TAPWIRE_CHAOS_SEED, and the figures file each suite writes for docs/reliability.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** True for `npm run test:chaos` (TAPWIRE_CHAOS=full): the long sizes of docs/reliability.md. */
export const CHAOS_FULL = process.env.TAPWIRE_CHAOS === 'full';

/** The short size inside `npm test`, the full size under TAPWIRE_CHAOS=full. */
export function chaosSize<T>(short: T, full: T): T {
  return CHAOS_FULL ? full : short;
}

/**
 * The seed of a suite: TAPWIRE_CHAOS_SEED when set (to replay a run), else `fixed` in the short run
 * (so `npm test` is the same every time) and a fresh one in the full run (so each full run explores
 * new schedules). Printed either way, with the command that replays it.
 */
export function chaosSeed(suite: string, fixed: number): number {
  const given = process.env.TAPWIRE_CHAOS_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) : CHAOS_FULL ? Math.floor(Math.random() * 2 ** 31) : fixed;
  if (!Number.isSafeInteger(seed)) throw new Error(`TAPWIRE_CHAOS_SEED must be an integer, got '${given}'`);
  console.log(`[chaos] ${suite}: seed ${seed} (replay with TAPWIRE_CHAOS_SEED=${seed}${CHAOS_FULL ? ' TAPWIRE_CHAOS=full' : ''})`);
  return seed;
}

/** mulberry32: a small, fast, seedable PRNG in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] from `random`. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Where suites write their figures (gitignored). */
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/**
 * Print a suite's figures and write them to test/chaos/results/<suite>-<backend>.json, with the size,
 * the seed and the time, for docs/reliability.md.
 */
export function reportFigures(suite: string, backend: string, figures: Record<string, unknown>): void {
  const record = { suite, backend, size: CHAOS_FULL ? 'full' : 'short', at: new Date().toISOString(), ...figures };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${suite}-${backend}.json`), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`[chaos] ${suite} (${backend}, ${record.size}): ${JSON.stringify(figures)}`);
}

/** Poll `check` until it holds; for state seen only through the API or the database. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what()}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
