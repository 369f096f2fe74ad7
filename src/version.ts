// The package version, read from package.json so `tapwire --version` and the user-agent never drift.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** This package's version, e.g. `0.1.0`. */
export const VERSION: string = (require('../package.json') as { version: string }).version;
