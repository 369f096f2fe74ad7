import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError, defaultConfig, ENV, loadConfig } from './config.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** loadConfig that returns the ConfigError it throws (and fails the test when it throws none). */
function configErrorOf(options: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(options)}`);
}

describe('loadConfig defaults (design.md §3)', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({ env: {} });
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8071);
    expect(config.databaseUrl).toBe('./data/tapwire.db');
    expect(config.adminToken).toBeNull();
    expect(config.allowedNetworks).toEqual([]);
    expect(config.httpsOnly).toBe(true);
    expect(config.retryScheduleMs).toEqual([5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
    expect(config.requestTimeoutMs).toBe(15 * SECOND);
    expect(config.maxPayloadBytes).toBe(1_048_576);
    expect(config.signatureHeaders).toBe('webhook');
    expect(config.role).toBe('all');
    expect(config.logLevel).toBe('info');
    expect(config.publicUrl).toBe('http://127.0.0.1:8071');
    expect(config.attemptRetentionMs).toBe(90 * 24 * HOUR);
    expect(config.databasePoolSize).toBe(10);
  });

  it('is the same as defaultConfig() apart from the derived public URL', () => {
    expect({ ...loadConfig(), publicUrl: '' }).toEqual(defaultConfig());
  });

  it('never reads process.env itself (only the CLI passes it in)', () => {
    const saved = process.env.TAPWIRE_PORT;
    process.env.TAPWIRE_PORT = '9999';
    try {
      expect(loadConfig().port).toBe(8071);
      expect(loadConfig({ env: {} }).port).toBe(8071);
    } finally {
      if (saved === undefined) delete process.env.TAPWIRE_PORT;
      else process.env.TAPWIRE_PORT = saved;
    }
  });

  it('hands out independent copies of the default schedule', () => {
    const a = loadConfig();
    a.retryScheduleMs.push(1);
    expect(loadConfig().retryScheduleMs).toHaveLength(7);
  });
});

describe('loadConfig from the environment', () => {
  it('turns retries off with TAPWIRE_RETRY_SCHEDULE=none, while an empty value keeps the default', () => {
    expect(loadConfig({ env: { TAPWIRE_RETRY_SCHEDULE: 'none' } }).retryScheduleMs).toEqual([]);
    expect(loadConfig({ env: { TAPWIRE_RETRY_SCHEDULE: '' } }).retryScheduleMs).toEqual(defaultConfig().retryScheduleMs);
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      env: {
        TAPWIRE_HOST: '0.0.0.0',
        TAPWIRE_PORT: '9000',
        TAPWIRE_DATABASE_URL: 'sqlite:/var/lib/tapwire/db.sqlite',
        TAPWIRE_ADMIN_TOKEN: 'my_admin_token_0123456789',
        TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8, ::1/128',
        TAPWIRE_HTTPS_ONLY: 'false',
        TAPWIRE_RETRY_SCHEDULE: '100ms, 2s,1m,3h',
        TAPWIRE_REQUEST_TIMEOUT: '2s',
        TAPWIRE_MAX_PAYLOAD_BYTES: '2048',
        TAPWIRE_SIGNATURE_HEADERS: 'both',
        TAPWIRE_LOG_LEVEL: 'warn',
        TAPWIRE_WORKER_CONCURRENCY: '8',
        TAPWIRE_PUBLIC_URL: 'https://hooks.example.com/',
        TAPWIRE_APP_TOKEN_TTL: '12h',
        TAPWIRE_ATTEMPT_RETENTION: '30d',
        TAPWIRE_DATABASE_POOL_SIZE: '25',
      },
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      databaseUrl: 'sqlite:/var/lib/tapwire/db.sqlite',
      adminToken: 'my_admin_token_0123456789',
      allowedNetworks: ['127.0.0.0/8', '::1/128'],
      httpsOnly: false,
      retryScheduleMs: [100, 2 * SECOND, MINUTE, 3 * HOUR],
      requestTimeoutMs: 2 * SECOND,
      maxPayloadBytes: 2048,
      signatureHeaders: 'both',
      logLevel: 'warn',
      workerConcurrency: 8,
      publicUrl: 'https://hooks.example.com',
      appTokenTtlMs: 12 * HOUR,
      attemptRetentionMs: 30 * 24 * HOUR,
      databasePoolSize: 25,
    });
  });

  it.each([
    [undefined, 1_000],
    ['0', 0],
    ['250ms', 250],
    ['60s', 60_000],
  ])('reads TAPWIRE_LOOKUP_CACHE_TTL=%s as %i ms', (value, expected) => {
    expect(loadConfig({ env: { TAPWIRE_LOOKUP_CACHE_TTL: value } }).lookupCacheTtlMs).toBe(expected);
  });

  it('keeps attempts forever with TAPWIRE_ATTEMPT_RETENTION=never', () => {
    expect(loadConfig({ env: { TAPWIRE_ATTEMPT_RETENTION: 'never' } }).attemptRetentionMs).toBeNull();
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['off', false],
  ])('reads TAPWIRE_HTTPS_ONLY=%s as %s', (value, expected) => {
    expect(loadConfig({ env: { TAPWIRE_HTTPS_ONLY: value } }).httpsOnly).toBe(expected);
  });

  it.each(['webhook', 'svix', 'both'] as const)('accepts TAPWIRE_SIGNATURE_HEADERS=%s', (mode) => {
    expect(loadConfig({ env: { TAPWIRE_SIGNATURE_HEADERS: mode } }).signatureHeaders).toBe(mode);
  });

  it('accepts port 0 (pick a free port) and 65535', () => {
    expect(loadConfig({ env: { TAPWIRE_PORT: '0' } }).port).toBe(0);
    expect(loadConfig({ env: { TAPWIRE_PORT: '65535' } }).port).toBe(65_535);
  });

  it('ignores surrounding whitespace', () => {
    expect(loadConfig({ env: { TAPWIRE_PORT: ' 9000 ', TAPWIRE_HTTPS_ONLY: ' false\n' } })).toMatchObject({ port: 9000, httpsOnly: false });
  });

  it('treats an empty TAPWIRE_ALLOWED_NETWORKS as no networks allowed', () => {
    expect(loadConfig({ env: { TAPWIRE_ALLOWED_NETWORKS: '' } }).allowedNetworks).toEqual([]);
    expect(loadConfig({ env: { TAPWIRE_ALLOWED_NETWORKS: ' , ' } }).allowedNetworks).toEqual([]);
  });

  it('accepts canonical, aligned TAPWIRE_ALLOWED_NETWORKS ranges as written', () => {
    const ranges = ['10.0.0.0/8', '192.168.1.0/24', '127.0.0.1/32', '0.0.0.0/0', 'fd00::/8', '::1/128', '::/0', '::ffff:10.0.0.0/104'];
    expect(loadConfig({ env: { TAPWIRE_ALLOWED_NETWORKS: ranges.join(', ') } }).allowedNetworks).toEqual(ranges);
  });

  it.each([
    ['010.0.0.0/8', /'010\.0\.0\.0' is not an IP address \(IPv4 needs four decimal parts without leading zeros\)/], // octal to inet_aton: 8.0.0.0/8
    ['192.168.1/24', /not an IP address \(IPv4 needs four decimal parts/], // three parts: 192.168.0.1
    ['0x0a.0.0.0/8', /not an IP address/],
    ['10.0.0.1/8', /host bits set after the first 8 bits; the range is 10\.0\.0\.0\/8/],
    ['fd00::1/8', /host bits set .* fd00::\/8/],
    ['10.0.0.0/08', /prefix length must be a whole number from 0 to 32/],
    ['10.0.0.0/33', /from 0 to 32/],
    ['fd00::/129', /from 0 to 128/],
    ['10.0.0.0/', /from 0 to 32/],
    ['fe80::1%eth0/64', /scoped/],
    ['10.0.0.0/8/8', /not a CIDR range/],
  ])('refuses the lenient TAPWIRE_ALLOWED_NETWORKS entry %s, naming it', (entry, why) => {
    const error = configErrorOf({ env: { TAPWIRE_ALLOWED_NETWORKS: `127.0.0.0/8, ${entry}` } });
    expect(error.message.startsWith(`TAPWIRE_ALLOWED_NETWORKS: '${entry}' `)).toBe(true);
    expect(error.message).toMatch(why);
  });

  it('reads TAPWIRE_METRICS_TOKEN (default none: /metrics public) and refuses a weak one without echoing it', () => {
    expect(loadConfig({ env: {} }).metricsToken).toBeNull();
    expect(loadConfig({ env: { TAPWIRE_METRICS_TOKEN: '' } }).metricsToken).toBeNull();
    expect(loadConfig({ env: { TAPWIRE_METRICS_TOKEN: ' prom-scrape-0123456789 ' } }).metricsToken).toBe('prom-scrape-0123456789');
    for (const bad of ['short-secret', 'has a space in the middle', 'tab\there-0123456789']) {
      const error = configErrorOf({ env: { TAPWIRE_METRICS_TOKEN: bad } });
      expect(error.message).toMatch(/^TAPWIRE_METRICS_TOKEN: /);
      expect(error.message).not.toContain(bad);
    }
  });

  it('treats an empty variable as unset (VAR= in a compose file or unit)', () => {
    const config = loadConfig({ env: { TAPWIRE_PORT: '', TAPWIRE_DATABASE_URL: '', TAPWIRE_ADMIN_TOKEN: '', TAPWIRE_HTTPS_ONLY: '' } });
    expect(config).toMatchObject({ port: 8071, databaseUrl: './data/tapwire.db', adminToken: null, httpsOnly: true });
  });

  it('derives the public URL from host and port, bracketing IPv6', () => {
    expect(loadConfig({ env: { TAPWIRE_HOST: '::1', TAPWIRE_PORT: '9000' } }).publicUrl).toBe('http://[::1]:9000');
  });
});

describe('loadConfig flags', () => {
  it('lets flags beat the environment', () => {
    const config = loadConfig({
      env: { TAPWIRE_HOST: '0.0.0.0', TAPWIRE_PORT: '9000', TAPWIRE_DATABASE_URL: '/from/env.db' },
      flags: { host: '127.0.0.2', port: '9001', databaseUrl: '/from/flag.db', role: 'worker' },
    });
    expect(config).toMatchObject({ host: '127.0.0.2', port: 9001, databaseUrl: '/from/flag.db', role: 'worker' });
  });

  it('falls back to the environment for flags left undefined', () => {
    const config = loadConfig({ env: { TAPWIRE_PORT: '9000' }, flags: { port: undefined, role: undefined } });
    expect(config).toMatchObject({ port: 9000, role: 'all' });
  });

  it.each(['api', 'worker', 'all'] as const)('accepts --role %s', (role) => {
    expect(loadConfig({ flags: { role } }).role).toBe(role);
  });
});

describe('loadConfig rejects bad values with a ConfigError naming the variable', () => {
  it.each([
    ['TAPWIRE_PORT', 'abc'],
    ['TAPWIRE_PORT', '-1'],
    ['TAPWIRE_PORT', '65536'],
    ['TAPWIRE_PORT', '80.5'],
    ['TAPWIRE_HTTPS_ONLY', 'maybe'],
    ['TAPWIRE_HTTPS_ONLY', 'truee'],
    ['TAPWIRE_RETRY_SCHEDULE', '5s,,5m'],
    ['TAPWIRE_RETRY_SCHEDULE', '5 seconds'],
    ['TAPWIRE_RETRY_SCHEDULE', '5s,-1m'],
    ['TAPWIRE_RETRY_SCHEDULE', '1.5s'],
    ['TAPWIRE_ALLOWED_NETWORKS', '10.0.0.0/33'],
    ['TAPWIRE_ALLOWED_NETWORKS', '127.0.0.0/8,localhost'],
    ['TAPWIRE_ALLOWED_NETWORKS', '10.0.0.1'],
    ['TAPWIRE_ADMIN_TOKEN', 'tw_admin_has.a.dot_in_it'],
    ['TAPWIRE_ADMIN_TOKEN', 'short'],
    ['TAPWIRE_ADMIN_TOKEN', 'tw_admin_0123456789abc'],
    ['TAPWIRE_ADMIN_TOKEN', 'a token with spaces inside'],
    ['TAPWIRE_SIGNATURE_HEADERS', 'standard'],
    ['TAPWIRE_SIGNATURE_HEADERS', 'WEBHOOK'],
    ['TAPWIRE_REQUEST_TIMEOUT', '0s'],
    ['TAPWIRE_REQUEST_TIMEOUT', '15 s'],
    ['TAPWIRE_MAX_PAYLOAD_BYTES', '0'],
    ['TAPWIRE_MAX_PAYLOAD_BYTES', '1MB'],
    ['TAPWIRE_LOG_LEVEL', 'verbose'],
    ['TAPWIRE_WORKER_CONCURRENCY', '0'],
    ['TAPWIRE_PUBLIC_URL', 'not a url'],
    ['TAPWIRE_PUBLIC_URL', 'ftp://example.com'],
    ['TAPWIRE_APP_TOKEN_TTL', 'forever'],
    ['TAPWIRE_APP_TOKEN_TTL', '8d'],
    ['TAPWIRE_ATTEMPT_RETENTION', 'forever'],
    ['TAPWIRE_ATTEMPT_RETENTION', '0s'],
    ['TAPWIRE_DATABASE_POOL_SIZE', '0'],
    ['TAPWIRE_LOOKUP_CACHE_TTL', '2m'],
    ['TAPWIRE_LOOKUP_CACHE_TTL', 'off'],
  ])('%s=%j', (variable, value) => {
    const error = configErrorOf({ env: { [variable]: value } });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message.length).toBeGreaterThan(variable.length + 10);
  });

  it('names the token problem without echoing the token', () => {
    const error = configErrorOf({ env: { TAPWIRE_ADMIN_TOKEN: 'tw_admin_secret.value_123' } });
    expect(error.message).toMatch(/"\."/);
    expect(error.message).not.toContain('secret.value');
  });

  it('names the flag, spelled as typed on the command line, when a flag is bad', () => {
    expect(configErrorOf({ env: { TAPWIRE_PORT: '9000' }, flags: { port: 'abc' } }).message).toMatch(/^--port: /);
    expect(configErrorOf({ flags: { role: 'bogus' } }).message).toMatch(/^--role: /);
    expect(configErrorOf({ flags: { maxPayloadBytes: 'lots' } }).message).toMatch(/^--max-payload-bytes: /);
  });

  it('reports the env variable, not the flag, when only the env is bad', () => {
    expect(configErrorOf({ env: { TAPWIRE_HTTPS_ONLY: 'nope' }, flags: { port: '9000' } }).message).toMatch(/^TAPWIRE_HTTPS_ONLY: /);
  });

  it('lists every variable name in ENV under the TAPWIRE_ prefix', () => {
    for (const name of Object.values(ENV)) expect(name).toMatch(/^TAPWIRE_[A-Z_]+$/);
  });
});

describe('endpoint health options', () => {
  it('sends no operational webhooks and auto-disables after 5 days by default', () => {
    const config = loadConfig({ env: {} });
    expect(config.operationalWebhookUrl).toBeNull();
    expect(config.operationalWebhookSecret).toBeNull();
    expect(config.autoDisableAfterMs).toBe(5 * 24 * HOUR);
  });

  it('reads the operational webhook URL and secret, and the auto-disable delay or never', () => {
    const config = loadConfig({
      env: {
        TAPWIRE_OPERATIONAL_WEBHOOK_URL: 'https://ops.example/tapwire',
        TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        TAPWIRE_AUTO_DISABLE_AFTER: '36h',
      },
    });
    expect(config.operationalWebhookUrl).toBe('https://ops.example/tapwire');
    expect(config.operationalWebhookSecret).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(config.autoDisableAfterMs).toBe(36 * HOUR);
    expect(loadConfig({ env: { TAPWIRE_AUTO_DISABLE_AFTER: 'never' } }).autoDisableAfterMs).toBeNull();
  });

  it('takes an operational webhook key in every form an endpoint takes, bare base64 gaining whsec_', () => {
    const bare = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(loadConfig({ env: { TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: bare } }).operationalWebhookSecret).toBe(`whsec_${bare}`);
    const ed25519 = 'whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==';
    expect(loadConfig({ env: { TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: ed25519 } }).operationalWebhookSecret).toBe(ed25519);
    expect(configErrorOf({ env: { TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: 'whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=' } }).message).toMatch(
      /^TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: /,
    );
  });

  it.each([
    ['TAPWIRE_OPERATIONAL_WEBHOOK_URL', 'not a url'],
    ['TAPWIRE_OPERATIONAL_WEBHOOK_URL', 'ftp://ops.example'],
    ['TAPWIRE_OPERATIONAL_WEBHOOK_SECRET', 'plain-secret-without-prefix'],
    ['TAPWIRE_AUTO_DISABLE_AFTER', '0s'],
    ['TAPWIRE_AUTO_DISABLE_AFTER', 'soon'],
  ])('refuses %s=%j, naming the variable', (variable, value) => {
    expect(configErrorOf({ env: { [variable]: value } }).message.startsWith(`${variable}: `)).toBe(true);
  });

  it('never echoes a bad secret', () => {
    const error = configErrorOf({ env: { TAPWIRE_OPERATIONAL_WEBHOOK_SECRET: 'whsec_tooshort' } });
    expect(error.message).not.toContain('tooshort');
  });
});

describe('egress proxy option', () => {
  it('connects directly by default and reads TAPWIRE_PROXY_URL', () => {
    expect(loadConfig({ env: {} }).proxyUrl).toBeNull();
    expect(loadConfig({ env: { TAPWIRE_PROXY_URL: 'http://smokescreen.internal:4750' } }).proxyUrl).toBe('http://smokescreen.internal:4750');
    expect(loadConfig({ env: { TAPWIRE_PROXY_URL: 'https://user:pw@proxy.internal:3128' } }).proxyUrl).toBe('https://user:pw@proxy.internal:3128');
  });

  it.each(['proxy.internal:3128', 'socks5://proxy.internal:1080', 'ftp://proxy.internal/'])('refuses TAPWIRE_PROXY_URL=%j, naming the variable', (value) => {
    expect(configErrorOf({ env: { TAPWIRE_PROXY_URL: value } }).message.startsWith('TAPWIRE_PROXY_URL: ')).toBe(true);
  });
});

describe('secrets at rest', () => {
  it('leaves the key to the database by default, and reads TAPWIRE_ENCRYPTION_KEY (one key, several, or none)', () => {
    expect(loadConfig({ env: {} }).encryptionKeys).toBeNull();
    const key = Buffer.alloc(32, 7).toString('base64');
    const other = Buffer.alloc(32, 9).toString('base64');
    expect((loadConfig({ env: { TAPWIRE_ENCRYPTION_KEY: key } }).encryptionKeys as Buffer[]).map((k) => k.toString('base64'))).toEqual([key]);
    expect(loadConfig({ env: { TAPWIRE_ENCRYPTION_KEY: `${other},${key}` } }).encryptionKeys?.length).toBe(2);
    expect(loadConfig({ env: { TAPWIRE_ENCRYPTION_KEY: 'none' } }).encryptionKeys).toBe('none');
  });

  it('refuses a key that is not base64 of 32 bytes, naming the variable but not the value', () => {
    const bad = Buffer.alloc(16, 1).toString('base64');
    const message = configErrorOf({ env: { TAPWIRE_ENCRYPTION_KEY: bad } }).message;
    expect(message.startsWith('TAPWIRE_ENCRYPTION_KEY: ')).toBe(true);
    expect(message).not.toContain(bad);
  });
});

describe('fair use limits', () => {
  it('allows 100 endpoints per application by default, and reads TAPWIRE_MAX_ENDPOINTS_PER_APP', () => {
    expect(loadConfig({ env: {} }).maxEndpointsPerApp).toBe(100);
    expect(loadConfig({ env: { TAPWIRE_MAX_ENDPOINTS_PER_APP: '5' } }).maxEndpointsPerApp).toBe(5);
  });

  it.each(['0', '-1', 'lots', '100001'])('refuses TAPWIRE_MAX_ENDPOINTS_PER_APP=%j, naming the variable', (value) => {
    expect(configErrorOf({ env: { TAPWIRE_MAX_ENDPOINTS_PER_APP: value } }).message.startsWith('TAPWIRE_MAX_ENDPOINTS_PER_APP: ')).toBe(true);
  });
});

describe('delivery isolation options', () => {
  it('adapts each endpoint\'s limit up to 64, shares half the worker per application and reserves a quarter for first attempts by default', () => {
    const config = loadConfig({ env: {} });
    expect(config.endpointConcurrency).toBeNull();
    expect(config.endpointConcurrencyMax).toBe(64);
    expect(config.appConcurrencyMax).toBeNull();
    expect(config.firstAttemptReserve).toBe(0.25);
  });

  it('reads TAPWIRE_ENDPOINT_CONCURRENCY(_MAX), TAPWIRE_APP_CONCURRENCY_MAX and TAPWIRE_FIRST_ATTEMPT_RESERVE as a percentage or a fraction', () => {
    expect(loadConfig({ env: { TAPWIRE_ENDPOINT_CONCURRENCY: '16' } }).endpointConcurrency).toBe(16);
    expect(loadConfig({ env: { TAPWIRE_ENDPOINT_CONCURRENCY_MAX: '200' } }).endpointConcurrencyMax).toBe(200);
    expect(loadConfig({ env: { TAPWIRE_APP_CONCURRENCY_MAX: '10' } }).appConcurrencyMax).toBe(10);
    expect(loadConfig({ env: { TAPWIRE_FIRST_ATTEMPT_RESERVE: '10%' } }).firstAttemptReserve).toBe(0.1);
    expect(loadConfig({ env: { TAPWIRE_FIRST_ATTEMPT_RESERVE: '0.5' } }).firstAttemptReserve).toBe(0.5);
    expect(loadConfig({ env: { TAPWIRE_FIRST_ATTEMPT_RESERVE: '0' } }).firstAttemptReserve).toBe(0);
  });

  it.each([
    ['TAPWIRE_ENDPOINT_CONCURRENCY', '0'],
    ['TAPWIRE_ENDPOINT_CONCURRENCY', 'many'],
    ['TAPWIRE_ENDPOINT_CONCURRENCY_MAX', '0'],
    ['TAPWIRE_APP_CONCURRENCY_MAX', 'half'],
    ['TAPWIRE_FIRST_ATTEMPT_RESERVE', '95%'],
    ['TAPWIRE_FIRST_ATTEMPT_RESERVE', '1'],
    ['TAPWIRE_FIRST_ATTEMPT_RESERVE', 'a quarter'],
    ['TAPWIRE_FIRST_ATTEMPT_RESERVE', '-5%'],
  ])('refuses %s=%j, naming the variable', (variable, value) => {
    expect(configErrorOf({ env: { [variable]: value } }).message.startsWith(`${variable}: `)).toBe(true);
  });
});

describe('dashboard options', () => {
  it('brands the dashboard as Tapwire in blue, with no logo, and lets only its own origin frame the portal by default', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({ brandName: 'Tapwire', brandColor: '#2563eb', brandLogoUrl: null, portalFrameAncestors: ["'self'"] });
  });

  it('reads the brand name, colour (lower-cased), https logo and the portal frame ancestors', () => {
    const config = loadConfig({
      env: {
        TAPWIRE_BRAND_NAME: 'Acme Webhooks',
        TAPWIRE_BRAND_COLOR: '#0F766E',
        TAPWIRE_BRAND_LOGO_URL: 'https://cdn.example.com/logo.svg',
        TAPWIRE_PORTAL_FRAME_ANCESTORS: "'self' https://app.example.com, https://*.example.org:8443",
      },
    });
    expect(config).toMatchObject({
      brandName: 'Acme Webhooks',
      brandColor: '#0f766e',
      brandLogoUrl: 'https://cdn.example.com/logo.svg',
      portalFrameAncestors: ["'self'", 'https://app.example.com', 'https://*.example.org:8443'],
    });
    expect(loadConfig({ env: { TAPWIRE_BRAND_COLOR: '#abc' } }).brandColor).toBe('#abc');
    expect(loadConfig({ env: { TAPWIRE_PORTAL_FRAME_ANCESTORS: 'none' } }).portalFrameAncestors).toEqual(["'none'"]);
    expect(loadConfig({ env: { TAPWIRE_PORTAL_FRAME_ANCESTORS: '*' } }).portalFrameAncestors).toEqual(['*']);
  });

  it.each([
    ['TAPWIRE_BRAND_COLOR', 'red'],
    ['TAPWIRE_BRAND_COLOR', '#12345'],
    ['TAPWIRE_BRAND_COLOR', '#123456; background: url(https://evil.example)'],
    ['TAPWIRE_BRAND_COLOR', 'rgb(0,0,0)'],
    ['TAPWIRE_BRAND_LOGO_URL', 'http://cdn.example.com/logo.svg'],
    ['TAPWIRE_BRAND_LOGO_URL', 'javascript:alert(1)'],
    ['TAPWIRE_BRAND_LOGO_URL', 'logo.svg'],
    ['TAPWIRE_BRAND_NAME', 'x'.repeat(81)],
    ['TAPWIRE_BRAND_NAME', 'a\u0007b'],
    ['TAPWIRE_PORTAL_FRAME_ANCESTORS', "https://a.example; script-src 'unsafe-inline'"],
    ['TAPWIRE_PORTAL_FRAME_ANCESTORS', 'https://a.example/path'],
    ['TAPWIRE_PORTAL_FRAME_ANCESTORS', "'unsafe-inline'"],
    ['TAPWIRE_PORTAL_FRAME_ANCESTORS', "'none' https://a.example"],
  ])('refuses %s=%j', (variable, value) => {
    const error = configErrorOf({ env: { [variable]: value } });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });
});

describe('API connection limits', () => {
  it('sets request, headers, connection and keep-alive timeouts and a connection cap by default', () => {
    const config = loadConfig({ env: {} });
    expect(config.apiRequestTimeoutMs).toBe(30 * SECOND);
    expect(config.apiHeadersTimeoutMs).toBe(10 * SECOND);
    expect(config.apiConnectionTimeoutMs).toBe(60 * SECOND);
    expect(config.apiKeepAliveTimeoutMs).toBe(72 * SECOND);
    expect(config.apiMaxConnections).toBe(10_000);
  });

  it('reads each from its variable, apart from the delivery timeout', () => {
    const config = loadConfig({
      env: {
        TAPWIRE_API_REQUEST_TIMEOUT: '2m',
        TAPWIRE_API_HEADERS_TIMEOUT: '20s',
        TAPWIRE_API_CONNECTION_TIMEOUT: '90s',
        TAPWIRE_API_KEEP_ALIVE_TIMEOUT: '5s',
        TAPWIRE_API_MAX_CONNECTIONS: '500',
        TAPWIRE_REQUEST_TIMEOUT: '3s',
      },
    });
    expect(config.apiRequestTimeoutMs).toBe(2 * MINUTE);
    expect(config.apiHeadersTimeoutMs).toBe(20 * SECOND);
    expect(config.apiConnectionTimeoutMs).toBe(90 * SECOND);
    expect(config.apiKeepAliveTimeoutMs).toBe(5 * SECOND);
    expect(config.apiMaxConnections).toBe(500);
    expect(config.requestTimeoutMs).toBe(3 * SECOND);
  });

  it('shortens the default headers timeout to a shorter request timeout', () => {
    expect(loadConfig({ env: { TAPWIRE_API_REQUEST_TIMEOUT: '4s' } }).apiHeadersTimeoutMs).toBe(4 * SECOND);
  });

  it('refuses a headers timeout longer than the request timeout, naming both', () => {
    const error = configErrorOf({ env: { TAPWIRE_API_REQUEST_TIMEOUT: '5s', TAPWIRE_API_HEADERS_TIMEOUT: '6s' } });
    expect(error.message).toContain('TAPWIRE_API_HEADERS_TIMEOUT');
    expect(error.message).toContain('TAPWIRE_API_REQUEST_TIMEOUT');
  });

  it.each([
    ['TAPWIRE_API_REQUEST_TIMEOUT', '0'],
    ['TAPWIRE_API_HEADERS_TIMEOUT', 'soon'],
    ['TAPWIRE_API_CONNECTION_TIMEOUT', '-1s'],
    ['TAPWIRE_API_KEEP_ALIVE_TIMEOUT', '0ms'],
    ['TAPWIRE_API_MAX_CONNECTIONS', '0'],
    ['TAPWIRE_API_MAX_CONNECTIONS', 'many'],
  ])('refuses %s=%j', (variable, value) => {
    const error = configErrorOf({ env: { [variable]: value } });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });
});

describe('API rate limits', () => {
  it('limits each app token to 3000 requests a minute and leaves admin tokens unlimited by default', () => {
    const config = loadConfig({ env: {} });
    expect(config.appRateLimit).toEqual({ max: 3000, windowMs: MINUTE });
    expect(config.adminRateLimit).toBeNull();
  });

  it.each([
    ['3000/1m', { max: 3000, windowMs: MINUTE }],
    ['50/s', { max: 50, windowMs: SECOND }],
    ['50 / 1s', { max: 50, windowMs: SECOND }],
    ['5/500ms', { max: 5, windowMs: 500 }],
    ['100000/h', { max: 100_000, windowMs: HOUR }],
    ['1/1d', { max: 1, windowMs: 24 * HOUR }],
    ['off', null],
    ['OFF', null],
    ['0', null],
  ])('reads TAPWIRE_APP_RATE_LIMIT and TAPWIRE_ADMIN_RATE_LIMIT=%j', (value, expected) => {
    const config = loadConfig({ env: { TAPWIRE_APP_RATE_LIMIT: value, TAPWIRE_ADMIN_RATE_LIMIT: value } });
    expect(config.appRateLimit).toEqual(expected);
    expect(config.adminRateLimit).toEqual(expected);
  });

  it('keeps the default for an empty variable', () => {
    expect(loadConfig({ env: { TAPWIRE_APP_RATE_LIMIT: '' } }).appRateLimit).toEqual({ max: 3000, windowMs: MINUTE });
  });

  it.each([
    ['TAPWIRE_APP_RATE_LIMIT', '3000'],
    ['TAPWIRE_APP_RATE_LIMIT', 'lots'],
    ['TAPWIRE_APP_RATE_LIMIT', '0/1m'],
    ['TAPWIRE_APP_RATE_LIMIT', '-5/1m'],
    ['TAPWIRE_APP_RATE_LIMIT', '5.5/1m'],
    ['TAPWIRE_APP_RATE_LIMIT', '50/second'],
    ['TAPWIRE_APP_RATE_LIMIT', '50/0s'],
    ['TAPWIRE_APP_RATE_LIMIT', '50/10ms'],
    ['TAPWIRE_APP_RATE_LIMIT', '50/2d'],
    ['TAPWIRE_APP_RATE_LIMIT', '50/1m/1m'],
    ['TAPWIRE_APP_RATE_LIMIT', 'none'],
    ['TAPWIRE_ADMIN_RATE_LIMIT', 'on'],
    ['TAPWIRE_ADMIN_RATE_LIMIT', '10/'],
    ['TAPWIRE_ADMIN_RATE_LIMIT', '/1m'],
  ])('refuses %s=%j, naming the variable', (variable, value) => {
    const error = configErrorOf({ env: { [variable]: value } });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).toContain(value);
  });

  it('reads the transformation limits', () => {
    expect(defaultConfig()).toMatchObject({ transformationTimeoutMs: 100, transformationMemoryLimitBytes: 16 * 1_048_576 });
    expect(defaultConfig().transformationThreads).toBe(Math.max(1, Math.min(4, availableParallelism() - 1)));
    const config = loadConfig({ env: { TAPWIRE_TRANSFORMATION_TIMEOUT: '250ms', TAPWIRE_TRANSFORMATION_MEMORY_LIMIT: '64MiB', TAPWIRE_TRANSFORMATION_THREADS: '4' } });
    expect(config).toMatchObject({ transformationTimeoutMs: 250, transformationMemoryLimitBytes: 64 * 1_048_576, transformationThreads: 4 });
    expect(loadConfig({ env: { TAPWIRE_TRANSFORMATION_MEMORY_LIMIT: '2097152' } }).transformationMemoryLimitBytes).toBe(2_097_152);
  });

  it.each([
    ['TAPWIRE_TRANSFORMATION_TIMEOUT', '0ms'],
    ['TAPWIRE_TRANSFORMATION_TIMEOUT', '11s'],
    ['TAPWIRE_TRANSFORMATION_MEMORY_LIMIT', '512KiB'],
    ['TAPWIRE_TRANSFORMATION_MEMORY_LIMIT', '2TiB'],
    ['TAPWIRE_TRANSFORMATION_MEMORY_LIMIT', 'lots'],
    ['TAPWIRE_TRANSFORMATION_THREADS', '0'],
  ])('refuses %s=%j, naming the variable', (variable, value) => {
    const error = configErrorOf({ env: { [variable]: value } });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).toContain(value);
  });
});
