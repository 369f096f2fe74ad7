// One schema of every Tapwire option with its default. loadConfig() merges flags > env > defaults;
// only the CLI passes process.env in, so library code never reads the environment itself.
import { availableParallelism } from 'node:os';
import { parseDuration, parseRetrySchedule } from '../domain/duration.js';
import { DEFAULT_RETRY_SCHEDULE_MS } from '../domain/retry-policy.js';
import { parseCidrList } from '../delivery/ssrf-guard.js';
import { MAX_APP_TOKEN_TTL_MS } from '../domain/token-scopes.js';
import { parseEncryptionKeys } from '../storage/shared/secret-box.js';
import { isValidSecret, normalizeSecret } from '../signing/standard-webhooks.js';

export type SignatureHeaderMode = 'webhook' | 'svix' | 'both';

/** A request budget: at most `max` requests per window of `windowMs`, counted per token in each API process. */
export interface RateLimit {
  max: number;
  windowMs: number;
}
export type ServerRole = 'api' | 'worker' | 'all';

/** Every option of a Tapwire server, resolved and typed. */
export interface TapwireConfig {
  /** Listen address. Default `127.0.0.1` (TAPWIRE_HOST). */
  host: string;
  /** Listen port. Default 8071 (TAPWIRE_PORT). */
  port: number;
  /** File path, `sqlite:PATH` or `postgres://…`. Default `./data/tapwire.db` (TAPWIRE_DATABASE_URL). */
  databaseUrl: string;
  /** Fixed admin bearer token; null = generate one on first start (TAPWIRE_ADMIN_TOKEN). */
  adminToken: string | null;
  /** CIDRs that endpoints may reach although they are private (TAPWIRE_ALLOWED_NETWORKS). */
  allowedNetworks: string[];
  /** Refuse `http://` endpoint URLs, when saved and when delivering. Default true (TAPWIRE_HTTPS_ONLY). */
  httpsOnly: boolean;
  /**
   * Send deliveries through this HTTP(S) proxy, e.g. a filtering egress proxy such as smokescreen;
   * the proxy then dials, and must filter addresses. Default null: connect directly (TAPWIRE_PROXY_URL).
   */
  proxyUrl: string | null;
  /** Delays after the first attempt. Default 5s,5m,30m,2h,5h,10h,10h (TAPWIRE_RETRY_SCHEDULE). */
  retryScheduleMs: number[];
  /** One deadline for connect + headers + body of an attempt. Default 15 s (TAPWIRE_REQUEST_TIMEOUT). */
  requestTimeoutMs: number;
  /**
   * The API's deadline for receiving a whole request, headers and body, from a client; a client that
   * stalls is answered 408 and disconnected. Default 30 s (TAPWIRE_API_REQUEST_TIMEOUT).
   */
  apiRequestTimeoutMs: number;
  /** The API's deadline for receiving a request's headers; at most apiRequestTimeoutMs. Default 10 s (TAPWIRE_API_HEADERS_TIMEOUT). */
  apiHeadersTimeoutMs: number;
  /**
   * An API connection on which nothing moves for this long, while a request is read or answered, is
   * closed. Default 60 s (TAPWIRE_API_CONNECTION_TIMEOUT).
   */
  apiConnectionTimeoutMs: number;
  /**
   * How long an idle keep-alive API connection stays open between requests. Default 72 s, longer than
   * the 60 s idle timeout of common proxies and load balancers, so they never reuse a connection the
   * server is closing (TAPWIRE_API_KEEP_ALIVE_TIMEOUT).
   */
  apiKeepAliveTimeoutMs: number;
  /** Open API connections at most; further ones are dropped at once. Default 10 000 (TAPWIRE_API_MAX_CONNECTIONS). */
  apiMaxConnections: number;
  /** Largest accepted message payload in bytes. Default 1 MiB (TAPWIRE_MAX_PAYLOAD_BYTES). */
  maxPayloadBytes: number;
  /** Which signature headers deliveries carry. Default `webhook` (TAPWIRE_SIGNATURE_HEADERS). */
  signatureHeaders: SignatureHeaderMode;
  /** pino level. Default `info` (TAPWIRE_LOG_LEVEL). */
  logLevel: string;
  /** What this process runs. Default `all` (--role). */
  role: ServerRole;
  /**
   * Attempts in flight at once in this process. Default 128 (TAPWIRE_WORKER_CONCURRENCY): one application
   * may then have 64 in flight, an endpoint's ceiling (see docs/delivery.md).
   */
  workerConcurrency: number;
  /**
   * A fixed number of attempts in flight to one endpoint, across every worker process, for endpoints
   * that set no concurrencyLimit of their own; it turns the adaptive limits off (an endpoint's own
   * concurrencyLimit is then a fixed limit too). Default null: each endpoint's limit adapts to its
   * answers between 1 and its ceiling (TAPWIRE_ENDPOINT_CONCURRENCY).
   */
  endpointConcurrency: number | null;
  /**
   * The ceiling of an endpoint's adaptive limit when it sets no concurrencyLimit of its own.
   * Default 64 (TAPWIRE_ENDPOINT_CONCURRENCY_MAX).
   */
  endpointConcurrencyMax: number;
  /**
   * Attempts in flight at once for one application in this process, so one tenant's backlog cannot
   * take every worker slot. Default null: half the worker's slots, at least 1 (TAPWIRE_APP_CONCURRENCY_MAX).
   */
  appConcurrencyMax: number | null;
  /**
   * Keys that seal endpoint signing secrets and custom header values at rest (AES-256-GCM; the first
   * seals, every one opens, so a list rotates keys). TAPWIRE_ENCRYPTION_KEY: base64 of 32 bytes,
   * comma-separated for several, or `none` (stored in clear, on purpose). null (unset): a key file
   * beside a SQLite database, and PostgreSQL refuses to start (see resolveEncryptionKeys).
   */
  encryptionKeys: Buffer[] | 'none' | null;
  /** Endpoints one application may have. Default 100 (TAPWIRE_MAX_ENDPOINTS_PER_APP). */
  maxEndpointsPerApp: number;
  /**
   * Share of this process's worker slots that only first attempts may use, so a storm of retries
   * cannot hold up fresh messages. A fraction in [0, 0.9]; default 0.25 (TAPWIRE_FIRST_ATTEMPT_RESERVE,
   * written `25%` or `0.25`).
   */
  firstAttemptReserve: number;
  /** Stored response bodies are cut at this many bytes. Default 20 000. */
  maxResponseBytes: number;
  /** Base URL used in links handed to people (app portal) and to providers (ingest URLs). Default `http://HOST:PORT`. (TAPWIRE_PUBLIC_URL) */
  publicUrl: string;
  /** Lifetime of app-scoped tokens minted by app-portal-access. Default and maximum 7 days (TAPWIRE_APP_TOKEN_TTL). */
  appTokenTtlMs: number;
  /** Attempts older than this are deleted; null keeps them forever. Default 90 days (TAPWIRE_ATTEMPT_RETENTION, `never`). */
  attemptRetentionMs: number | null;
  /** PostgreSQL connections per process (plus one LISTEN connection for workers). Default 10 (TAPWIRE_DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  /**
   * SQLite only: run the database on a worker thread of its own, so statements and fsyncs do not
   * hold up the HTTP server and the delivery worker. Default true (TAPWIRE_SQLITE_THREAD).
   */
  sqliteThread: boolean;
  /**
   * How long this process trusts a token or application it has just read, in ms; 0 reads the store
   * on every request. A change made through another process is seen up to this late. Default 1 s
   * (TAPWIRE_LOOKUP_CACHE_TTL).
   */
  lookupCacheTtlMs: number;
  /**
   * Where operational webhooks (endpoint.*, message.attempt.*) are sent, signed like any delivery.
   * Default null: none are sent (TAPWIRE_OPERATIONAL_WEBHOOK_URL). See docs/operational-webhooks.md.
   */
  operationalWebhookUrl: string | null;
  /**
   * Key that signs operational webhooks: a `whsec_…` secret (HMAC, `v1`) or a `whsk_…` ed25519 key
   * (`v1a`); null = a `whsec_` one generated once and kept (TAPWIRE_OPERATIONAL_WEBHOOK_SECRET).
   */
  operationalWebhookSecret: string | null;
  /**
   * Disable an endpoint that has failed continuously for this long. Default 5 days; null (`never`)
   * never disables automatically (TAPWIRE_AUTO_DISABLE_AFTER).
   */
  autoDisableAfterMs: number | null;
  /**
   * A `tapwire listen` session whose WebSocket has been gone this long (a laptop that closed without
   * ending it) loses its temporary endpoint; a CLI reconnecting sooner finds it as it left it.
   * Default 10 minutes (TAPWIRE_LISTEN_SESSION_TIMEOUT).
   */
  listenSessionTimeoutMs: number;
  /** Product name shown by the dashboard and the customer portal. Default `Tapwire` (TAPWIRE_BRAND_NAME). */
  brandName: string;
  /** Accent colour of the dashboard, `#rgb` or `#rrggbb` only (no CSS can ride in). Default `#2563eb` (TAPWIRE_BRAND_COLOR). */
  brandColor: string;
  /** `https://` URL of a logo shown in the dashboard header. Default null: no logo (TAPWIRE_BRAND_LOGO_URL). */
  brandLogoUrl: string | null;
  /**
   * Who may embed the customer portal (`/portal`) in a frame: the CSP `frame-ancestors` sources,
   * e.g. `https://app.example.com`. Default `'self'`; the operator dashboard (`/`) never allows
   * framing (TAPWIRE_PORTAL_FRAME_ANCESTORS).
   */
  portalFrameAncestors: string[];
  /**
   * When set, GET /metrics answers only requests with `Authorization: Bearer <this token>` (401
   * otherwise). Default null: /metrics is public, as Prometheus scrapes without credentials
   * (TAPWIRE_METRICS_TOKEN).
   */
  metricsToken: string | null;
  /**
   * API requests each application-scoped (portal) token may make per window, in each API process;
   * the next ones get 429 with Retry-After until the window ends. Default 3000 per minute (50 per
   * second on average, any burst within that); null (`off` or `0`) is unlimited
   * (TAPWIRE_APP_RATE_LIMIT, written `3000/1m`, `50/s`).
   */
  appRateLimit: RateLimit | null;
  /** The same for admin tokens. Default null: unlimited (TAPWIRE_ADMIN_RATE_LIMIT). */
  adminRateLimit: RateLimit | null;
  /**
   * CPU time one run of an endpoint transformation may take before it is stopped (a failed
   * attempt). Default 100 ms; at most 10 s (TAPWIRE_TRANSFORMATION_TIMEOUT).
   */
  transformationTimeoutMs: number;
  /**
   * Heap one run of an endpoint transformation may allocate in its sandbox. Default 16 MiB; from
   * 1 MiB to 1 GiB (TAPWIRE_TRANSFORMATION_MEMORY_LIMIT, bytes or `16MiB`, `512KiB`).
   */
  transformationMemoryLimitBytes: number;
  /**
   * Threads running transformations at once in each process. Default: one less than the CPUs,
   * from 1 to 4, so a handler spinning until its deadline on every thread still leaves a core to
   * the API and the delivery loop (TAPWIRE_TRANSFORMATION_THREADS).
   */
  transformationThreads: number;
}

/** Env var names, in one place so docs and errors can name them. */
export const ENV = {
  host: 'TAPWIRE_HOST',
  port: 'TAPWIRE_PORT',
  databaseUrl: 'TAPWIRE_DATABASE_URL',
  adminToken: 'TAPWIRE_ADMIN_TOKEN',
  allowedNetworks: 'TAPWIRE_ALLOWED_NETWORKS',
  httpsOnly: 'TAPWIRE_HTTPS_ONLY',
  proxyUrl: 'TAPWIRE_PROXY_URL',
  retryScheduleMs: 'TAPWIRE_RETRY_SCHEDULE',
  requestTimeoutMs: 'TAPWIRE_REQUEST_TIMEOUT',
  apiRequestTimeoutMs: 'TAPWIRE_API_REQUEST_TIMEOUT',
  apiHeadersTimeoutMs: 'TAPWIRE_API_HEADERS_TIMEOUT',
  apiConnectionTimeoutMs: 'TAPWIRE_API_CONNECTION_TIMEOUT',
  apiKeepAliveTimeoutMs: 'TAPWIRE_API_KEEP_ALIVE_TIMEOUT',
  apiMaxConnections: 'TAPWIRE_API_MAX_CONNECTIONS',
  maxPayloadBytes: 'TAPWIRE_MAX_PAYLOAD_BYTES',
  signatureHeaders: 'TAPWIRE_SIGNATURE_HEADERS',
  logLevel: 'TAPWIRE_LOG_LEVEL',
  workerConcurrency: 'TAPWIRE_WORKER_CONCURRENCY',
  endpointConcurrency: 'TAPWIRE_ENDPOINT_CONCURRENCY',
  endpointConcurrencyMax: 'TAPWIRE_ENDPOINT_CONCURRENCY_MAX',
  appConcurrencyMax: 'TAPWIRE_APP_CONCURRENCY_MAX',
  maxEndpointsPerApp: 'TAPWIRE_MAX_ENDPOINTS_PER_APP',
  encryptionKeys: 'TAPWIRE_ENCRYPTION_KEY',
  firstAttemptReserve: 'TAPWIRE_FIRST_ATTEMPT_RESERVE',
  publicUrl: 'TAPWIRE_PUBLIC_URL',
  appTokenTtlMs: 'TAPWIRE_APP_TOKEN_TTL',
  attemptRetentionMs: 'TAPWIRE_ATTEMPT_RETENTION',
  databasePoolSize: 'TAPWIRE_DATABASE_POOL_SIZE',
  sqliteThread: 'TAPWIRE_SQLITE_THREAD',
  lookupCacheTtlMs: 'TAPWIRE_LOOKUP_CACHE_TTL',
  operationalWebhookUrl: 'TAPWIRE_OPERATIONAL_WEBHOOK_URL',
  operationalWebhookSecret: 'TAPWIRE_OPERATIONAL_WEBHOOK_SECRET',
  autoDisableAfterMs: 'TAPWIRE_AUTO_DISABLE_AFTER',
  listenSessionTimeoutMs: 'TAPWIRE_LISTEN_SESSION_TIMEOUT',
  brandName: 'TAPWIRE_BRAND_NAME',
  brandColor: 'TAPWIRE_BRAND_COLOR',
  brandLogoUrl: 'TAPWIRE_BRAND_LOGO_URL',
  portalFrameAncestors: 'TAPWIRE_PORTAL_FRAME_ANCESTORS',
  metricsToken: 'TAPWIRE_METRICS_TOKEN',
  appRateLimit: 'TAPWIRE_APP_RATE_LIMIT',
  adminRateLimit: 'TAPWIRE_ADMIN_RATE_LIMIT',
  transformationTimeoutMs: 'TAPWIRE_TRANSFORMATION_TIMEOUT',
  transformationMemoryLimitBytes: 'TAPWIRE_TRANSFORMATION_MEMORY_LIMIT',
  transformationThreads: 'TAPWIRE_TRANSFORMATION_THREADS',
} as const;

/** Thrown for an option that cannot be parsed; the CLI prints it and exits with status 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The defaults, before env and flags. */
export function defaultConfig(): TapwireConfig {
  return {
    host: '127.0.0.1',
    port: 8071,
    databaseUrl: './data/tapwire.db',
    adminToken: null,
    allowedNetworks: [],
    httpsOnly: true,
    proxyUrl: null,
    retryScheduleMs: [...DEFAULT_RETRY_SCHEDULE_MS],
    requestTimeoutMs: 15_000,
    apiRequestTimeoutMs: 30_000,
    apiHeadersTimeoutMs: 10_000,
    apiConnectionTimeoutMs: 60_000,
    apiKeepAliveTimeoutMs: 72_000,
    apiMaxConnections: 10_000,
    maxPayloadBytes: 1_048_576,
    signatureHeaders: 'webhook',
    logLevel: 'info',
    role: 'all',
    workerConcurrency: 128,
    endpointConcurrency: null,
    endpointConcurrencyMax: 64,
    appConcurrencyMax: null,
    maxEndpointsPerApp: 100,
    encryptionKeys: null,
    firstAttemptReserve: 0.25,
    maxResponseBytes: 20_000,
    publicUrl: '',
    appTokenTtlMs: 7 * 24 * 3600_000,
    attemptRetentionMs: 90 * 24 * 3600_000,
    databasePoolSize: 10,
    sqliteThread: true,
    lookupCacheTtlMs: 1_000,
    operationalWebhookUrl: null,
    operationalWebhookSecret: null,
    autoDisableAfterMs: 5 * 24 * 3600_000,
    listenSessionTimeoutMs: 10 * 60_000,
    brandName: 'Tapwire',
    brandColor: '#2563eb',
    brandLogoUrl: null,
    portalFrameAncestors: ["'self'"],
    metricsToken: null,
    appRateLimit: { max: 3000, windowMs: 60_000 },
    adminRateLimit: null,
    transformationTimeoutMs: 100,
    transformationMemoryLimitBytes: 16 * 1_048_576,
    transformationThreads: Math.max(1, Math.min(4, availableParallelism() - 1)),
  };
}

type Overrides = { [K in keyof TapwireConfig]?: string | undefined };

/**
 * Resolve the configuration: `flags` (already strings from the command line) win over `env`,
 * which wins over the defaults. Throws ConfigError naming the variable on any bad value.
 */
export function loadConfig(options: { env?: Record<string, string | undefined>; flags?: Overrides } = {}): TapwireConfig {
  const env = options.env ?? {};
  const flags = options.flags ?? {};
  const config = defaultConfig();
  const raw = (key: keyof typeof ENV): { value: string; source: string } | null => {
    const flag = flags[key];
    if (flag !== undefined) return { value: flag, source: `--${kebabCase(key)}` };
    const fromEnv = env[ENV[key]];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: ENV[key] };
    return null;
  };
  const parse = <T>(key: keyof typeof ENV, fn: (v: string) => T): T | undefined => {
    const got = raw(key);
    if (!got) return undefined;
    try {
      return fn(got.value.trim());
    } catch (error) {
      throw new ConfigError(`${got.source}: ${(error as Error).message}`);
    }
  };

  config.host = parse('host', (v) => v) ?? config.host;
  config.port = parse('port', (v) => parseInteger(v, 0, 65_535)) ?? config.port;
  config.databaseUrl = parse('databaseUrl', (v) => v) ?? config.databaseUrl;
  config.adminToken = parse('adminToken', parseAdminToken) ?? null;
  config.allowedNetworks = parse('allowedNetworks', (v) => parseCidrList(v)) ?? [];
  config.httpsOnly = parse('httpsOnly', parseBoolean) ?? config.httpsOnly;
  config.proxyUrl = parse('proxyUrl', parseProxyUrl) ?? null;
  config.retryScheduleMs = parse('retryScheduleMs', parseRetrySchedule) ?? config.retryScheduleMs;
  config.requestTimeoutMs = parse('requestTimeoutMs', (v) => parsePositiveDuration(v)) ?? config.requestTimeoutMs;
  config.apiRequestTimeoutMs = parse('apiRequestTimeoutMs', (v) => parsePositiveDuration(v)) ?? config.apiRequestTimeoutMs;
  config.apiHeadersTimeoutMs = parse('apiHeadersTimeoutMs', (v) => parsePositiveDuration(v)) ?? Math.min(config.apiHeadersTimeoutMs, config.apiRequestTimeoutMs);
  if (config.apiHeadersTimeoutMs > config.apiRequestTimeoutMs) {
    // Node refuses a server whose headers deadline is later than its whole-request deadline.
    throw new ConfigError(`${ENV.apiHeadersTimeoutMs} (${config.apiHeadersTimeoutMs} ms) must not exceed ${ENV.apiRequestTimeoutMs} (${config.apiRequestTimeoutMs} ms)`);
  }
  config.apiConnectionTimeoutMs = parse('apiConnectionTimeoutMs', (v) => parsePositiveDuration(v)) ?? config.apiConnectionTimeoutMs;
  config.apiKeepAliveTimeoutMs = parse('apiKeepAliveTimeoutMs', (v) => parsePositiveDuration(v)) ?? config.apiKeepAliveTimeoutMs;
  config.apiMaxConnections = parse('apiMaxConnections', (v) => parseInteger(v, 1, 1_000_000)) ?? config.apiMaxConnections;
  config.maxPayloadBytes = parse('maxPayloadBytes', (v) => parseInteger(v, 1, 64 * 1_048_576)) ?? config.maxPayloadBytes;
  config.signatureHeaders = parse('signatureHeaders', parseSignatureMode) ?? config.signatureHeaders;
  config.logLevel = parse('logLevel', parseLogLevel) ?? config.logLevel;
  config.workerConcurrency = parse('workerConcurrency', (v) => parseInteger(v, 1, 10_000)) ?? config.workerConcurrency;
  config.endpointConcurrency = parse('endpointConcurrency', (v) => parseInteger(v, 1, 10_000)) ?? config.endpointConcurrency;
  config.endpointConcurrencyMax = parse('endpointConcurrencyMax', (v) => parseInteger(v, 1, 10_000)) ?? config.endpointConcurrencyMax;
  config.appConcurrencyMax = parse('appConcurrencyMax', (v) => parseInteger(v, 1, 10_000)) ?? config.appConcurrencyMax;
  config.maxEndpointsPerApp = parse('maxEndpointsPerApp', (v) => parseInteger(v, 1, 100_000)) ?? config.maxEndpointsPerApp;
  config.encryptionKeys = parse('encryptionKeys', (v): Buffer[] | 'none' => (v.trim().toLowerCase() === 'none' ? 'none' : parseEncryptionKeys(v))) ?? null;
  config.firstAttemptReserve = parse('firstAttemptReserve', parseReserve) ?? config.firstAttemptReserve;
  config.appTokenTtlMs =
    parse('appTokenTtlMs', (v) => {
      const ms = parsePositiveDuration(v);
      if (ms > MAX_APP_TOKEN_TTL_MS) throw new Error(`at most 7d (Svix's limit for portal tokens), got '${v}'`);
      return ms;
    }) ?? config.appTokenTtlMs;
  const retention = parse('attemptRetentionMs', (v) => (v.toLowerCase() === 'never' ? null : parsePositiveDuration(v)));
  if (retention !== undefined) config.attemptRetentionMs = retention;
  config.databasePoolSize = parse('databasePoolSize', (v) => parseInteger(v, 1, 1000)) ?? config.databasePoolSize;
  config.sqliteThread = parse('sqliteThread', parseBoolean) ?? config.sqliteThread;
  config.lookupCacheTtlMs = parse('lookupCacheTtlMs', parseCacheTtl) ?? config.lookupCacheTtlMs;
  config.operationalWebhookUrl = parse('operationalWebhookUrl', parseWebhookUrl) ?? null;
  config.operationalWebhookSecret = parse('operationalWebhookSecret', parseWebhookSecret) ?? null;
  const autoDisable = parse('autoDisableAfterMs', (v) => (v.toLowerCase() === 'never' ? null : parsePositiveDuration(v)));
  if (autoDisable !== undefined) config.autoDisableAfterMs = autoDisable;
  config.listenSessionTimeoutMs = parse('listenSessionTimeoutMs', parsePositiveDuration) ?? config.listenSessionTimeoutMs;
  config.brandName = parse('brandName', parseBrandName) ?? config.brandName;
  config.brandColor = parse('brandColor', parseBrandColor) ?? config.brandColor;
  config.brandLogoUrl = parse('brandLogoUrl', parseLogoUrl) ?? null;
  config.portalFrameAncestors = parse('portalFrameAncestors', parseFrameAncestors) ?? config.portalFrameAncestors;
  config.metricsToken = parse('metricsToken', parseMetricsToken) ?? null;
  const appRateLimit = parse('appRateLimit', parseRateLimit);
  if (appRateLimit !== undefined) config.appRateLimit = appRateLimit;
  const adminRateLimit = parse('adminRateLimit', parseRateLimit);
  if (adminRateLimit !== undefined) config.adminRateLimit = adminRateLimit;
  config.transformationTimeoutMs =
    parse('transformationTimeoutMs', (v) => {
      const ms = parsePositiveDuration(v);
      if (ms > 10_000) throw new Error(`expected at most 10s, got '${v}'`);
      return ms;
    }) ?? config.transformationTimeoutMs;
  config.transformationMemoryLimitBytes = parse('transformationMemoryLimitBytes', (v) => parseByteSize(v, 1_048_576, 1_073_741_824)) ?? config.transformationMemoryLimitBytes;
  config.transformationThreads = parse('transformationThreads', (v) => parseInteger(v, 1, 64)) ?? config.transformationThreads;
  const role = flags.role ?? undefined;
  if (role !== undefined) {
    if (role !== 'api' && role !== 'worker' && role !== 'all') {
      throw new ConfigError(`--role: expected api, worker or all, got '${role}'`);
    }
    config.role = role;
  }
  const publicUrl = parse('publicUrl', parsePublicUrl);
  config.publicUrl = publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  return config;
}

/** `databaseUrl` → `database-url`, so errors name the flag as it is typed. */
function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function parseInteger(value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new Error(`expected a whole number, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new Error(`expected a number from ${min} to ${max}, got ${n}`);
  return n;
}

/** A size in bytes, or with a binary unit: `16777216`, `16MiB`, `512KiB`, `1GiB` (KB/MB/GB read as the same powers of two). */
function parseByteSize(value: string, min: number, max: number): number {
  const match = /^(\d+)\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?$/i.exec(value);
  if (!match) throw new Error(`expected a size such as 16MiB, 512KiB or a number of bytes, got '${value}'`);
  const unit = (match[2] ?? 'b').toLowerCase()[0]!;
  const bytes = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1_048_576 : unit === 'g' ? 1_073_741_824 : 1);
  if (bytes < min || bytes > max) throw new Error(`expected a size from ${min} to ${max} bytes, got '${value}'`);
  return bytes;
}

/** `25%` or `0.25`: a share of at most 90 % (retries need slots too). */
function parseReserve(value: string): number {
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(value);
  const share = percent ? Number(percent[1]) / 100 : /^\d+(?:\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(share)) throw new Error(`expected a share such as 25% or 0.25, got '${value}'`);
  if (share > 0.9) throw new Error(`expected at most 90% (retries need slots too), got '${value}'`);
  return share;
}

function parseBoolean(value: string): boolean {
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new Error(`expected true or false, got '${value}'`);
}

/**
 * `COUNT/WINDOW` such as `3000/1m`, `50/s` or `5/500ms` (a bare unit means one of it); `off` or `0`
 * is no limit (null). The window is at least 100 ms (Retry-After counts in seconds) and at most a day.
 */
function parseRateLimit(value: string): RateLimit | null {
  if (value === '0' || value.toLowerCase() === 'off') return null;
  const match = /^(\d+)\s*\/\s*(\S+)$/.exec(value);
  if (!match) throw new Error(`expected COUNT/WINDOW such as 3000/1m or 50/s, or off, got '${value}'`);
  const max = Number(match[1]);
  if (max < 1 || max > 1_000_000_000) throw new Error(`expected a count from 1 to 1000000000 (or off), got '${value}'`);
  const window = /^(ms|s|m|h|d)$/.test(match[2]!) ? `1${match[2]}` : match[2]!;
  let windowMs: number;
  try {
    windowMs = parseDuration(window);
  } catch {
    throw new Error(`expected COUNT/WINDOW such as 3000/1m or 50/s, or off, got '${value}'`);
  }
  if (windowMs < 100 || windowMs > 24 * 3600_000) throw new Error(`expected a window from 100ms to 1d, got '${value}'`);
  return { max, windowMs };
}

/** `0` (off) or a duration of at most a minute. */
function parseCacheTtl(value: string): number {
  const ms = value === '0' ? 0 : parsePositiveDuration(value);
  if (ms > 60_000) throw new Error(`expected 0 or a duration of at most 60s, got '${value}'`);
  return ms;
}

function parsePositiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`expected a duration above zero, got '${value}'`);
  return ms;
}

function parseSignatureMode(value: string): SignatureHeaderMode {
  if (value === 'webhook' || value === 'svix' || value === 'both') return value;
  throw new Error(`expected webhook, svix or both, got '${value}'`);
}

function parseLogLevel(value: string): string {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(value)) throw new Error(`expected one of ${levels.join(', ')}, got '${value}'`);
  return value;
}

function parseAdminToken(value: string): string {
  if (value.includes('.')) throw new Error('tokens may not contain "."');
  if (value.length < 24) throw new Error('use at least 24 characters');
  if (/\s/.test(value)) throw new Error('tokens may not contain whitespace');
  return value;
}

/** A bearer token as Prometheus sends it (`authorization.credentials`); never echoed in errors. */
function parseMetricsToken(value: string): string {
  if (value.length < 16) throw new Error('use at least 16 characters');
  if (!/^[\x21-\x7e]+$/.test(value)) throw new Error('tokens may contain only printable ASCII characters, without spaces');
  return value;
}

function parseProxyUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`expected a proxy URL such as http://proxy.internal:3128, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`expected an http:// or https:// proxy URL, got '${url.protocol}'`);
  }
  return value;
}

function parseWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`expected an http(s) URL, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http(s) URL, got '${value}'`);
  return value;
}

function parseWebhookSecret(value: string): string {
  if (!isValidSecret(value)) {
    throw new Error("expected 'whsec_' followed by base64 of 24 to 75 bytes (or that base64 alone), or 'whsk_' followed by base64 of a 64-byte ed25519 key");
  }
  // Stored and compared at start in the form the endpoint keeps (a bare base64 secret gains `whsec_`).
  return normalizeSecret(value);
}

function parsePublicUrl(value: string): string {
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('expected an http(s) URL');
  return value.replace(/\/+$/, '');
}

function parseBrandName(value: string): string {
  if (value.length > 80) throw new Error('use at most 80 characters');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error('control characters are not allowed');
  return value;
}

/** Hex only: the colour ends up in a CSS custom property, so nothing else may get through. */
function parseBrandColor(value: string): string {
  if (!/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(value)) throw new Error(`expected a hex colour such as #2563eb, got '${value}'`);
  return value.toLowerCase();
}

/** https only: the page's Content-Security-Policy allows images from 'self', data: and https:. */
function parseLogoUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`expected an https:// URL, got '${value}'`);
  }
  if (url.protocol !== 'https:') throw new Error(`expected an https:// URL, got '${value}'`);
  return url.href;
}

/**
 * CSP `frame-ancestors` sources, separated by spaces or commas: `'self'`, `'none'`, `*`, or an
 * origin such as `https://app.example.com` or `https://*.example.com`. Anything that could end the
 * directive (`;`, quotes, a path) is refused, so the value cannot change the rest of the policy.
 */
function parseFrameAncestors(value: string): string[] {
  const sources = value.split(/[\s,]+/).filter(Boolean);
  if (sources.length === 0) throw new Error("expected 'self', 'none', * or origins such as https://app.example.com");
  for (const source of sources) {
    const keyword = ["'self'", "'none'", 'self', 'none'].includes(source.toLowerCase());
    const origin = /^(?:https?:\/\/)?(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::(?:\d{1,5}|\*))?$/i.test(source);
    const scheme = /^https?:$/i.test(source);
    if (!keyword && !origin && !scheme && source !== '*') {
      throw new Error(`'${source}' is not a frame-ancestors source: use 'self', 'none', *, https: or an origin such as https://app.example.com`);
    }
  }
  const normalized = sources.map((s) => (['self', 'none'].includes(s.toLowerCase()) || ["'self'", "'none'"].includes(s.toLowerCase()) ? `'${s.toLowerCase().replace(/'/g, '')}'` : s));
  if (normalized.includes("'none'") && normalized.length > 1) throw new Error("'none' cannot be combined with other sources");
  return normalized;
}
