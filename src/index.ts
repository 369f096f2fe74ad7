// The public library API of `tapwire`, for embedding a server in your own process.
export { TapwireServer, type TapwireServerOptions } from './tapwire-server.js';
export { loadConfig, defaultConfig, ConfigError, type TapwireConfig } from './config/config.js';
export { TapwireError, ERROR_CODES, type ErrorCode } from './errors/tapwire-error.js';
export { openStore } from './storage/open-store.js';
export type { Store } from './storage/store.js';
export { generateSecret, signPayload, verifySignature } from './signing/standard-webhooks.js';
export { VERSION } from './version.js';
