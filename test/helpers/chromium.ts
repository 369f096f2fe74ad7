// Debian's Chromium for the browser tests, driven by playwright-core (whose own browser download
// is never used). Outside CI a missing Chromium skips those tests with one loud warning; under
// CI=true it fails the run, as an unreachable PostgreSQL does (design.md §9).
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where the browser is: TAPWIRE_TEST_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.TAPWIRE_TEST_CHROMIUM ?? '/usr/bin/chromium';

let warned = false;

/** True when Chromium can be launched; false (with a warning) outside CI; throws under CI=true. */
export function chromiumAvailable(): boolean {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    if (process.env.CI === 'true') {
      throw new Error(`Chromium not found at ${CHROMIUM_PATH} and CI=true: install it (apt-get install chromium, see .ci/run) or set TAPWIRE_TEST_CHROMIUM`);
    }
    if (!warned) {
      warned = true;
      console.warn(
        `\n${'!'.repeat(78)}\n!! Chromium not found at ${CHROMIUM_PATH}: skipping the browser tests.\n` +
          `!! apt-get install chromium, or set TAPWIRE_TEST_CHROMIUM; under CI=true this fails.\n${'!'.repeat(78)}\n`,
      );
    }
    return false;
  }
}

/** A headless Chromium; close it in afterAll. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });
}
