#!/usr/bin/env node
// The `tapwire` binary: serve, migrate, listen, token create/list/revoke/rotate-admin, key generate/rotate. The only place that reads process.env;
// everything below it takes typed options. The server, store and HTTP modules are imported only
// by the command that needs them, so `--help`, `--version` and usage errors answer at once.
//
// Exit statuses: 0 done (and after a graceful SIGTERM/SIGINT), 1 the command failed (e.g. no
// such application, or an unexpected error), 2 usage (unknown command or flag, bad flag or
// TAPWIRE_* value, no command at all), 3 unavailable (the database cannot be opened or
// migrated, or the server cannot listen).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, ENV, loadConfig, type TapwireConfig } from '../config/config.js';
import { parseDuration } from '../domain/duration.js';
import { isCapability, MAX_APP_TOKEN_TTL_MS, PORTAL_CAPABILITIES, type PortalCapability } from '../domain/token-scopes.js';
import { TapwireError } from '../errors/tapwire-error.js';
import type { ServiceContext } from '../services/context.js';
import type { TapwireServer } from '../tapwire-server.js';
import { VERSION } from '../version.js';

/** Exit status when a command ran but failed (unknown application, unexpected error). */
const EXIT_FAILED = 1;
/** Exit status for a bad command, flag or environment value. */
const EXIT_USAGE = 2;
/** Exit status when the database cannot be opened or migrated, or the server cannot listen. */
const EXIT_UNAVAILABLE = 3;

interface CommonFlags {
  databaseUrl?: string;
}

/** The configuration from flags and the environment; a bad value exits 2 naming it (exitOnError). */
function configFrom(flags: Record<string, string | undefined>): TapwireConfig {
  try {
    return loadConfig({ env: process.env, flags });
  } catch (error) {
    exitOnError(error);
  }
}

function fail(message: string, code: number): never {
  process.stderr.write(`tapwire: ${message}\n`);
  process.exit(code);
}

/** Turn any startup error into a clear message and exit status. `where` names the database, password masked. */
function exitOnError(error: unknown, where?: string): never {
  if (error instanceof ConfigError) fail(error.message, EXIT_USAGE);
  if (error instanceof TapwireError) {
    if (error.code === 'store_unavailable') fail(`cannot open the database${where ? ` (${where})` : ''}: ${error.detail}`, EXIT_UNAVAILABLE);
    if (error.code === 'schema_too_new') fail(`refusing to use the database${where ? ` (${where})` : ''}: ${error.detail}`, EXIT_UNAVAILABLE);
    fail(error.detail, EXIT_USAGE);
  }
  const e = error as Error | undefined;
  fail(e?.stack ?? String(error), EXIT_FAILED);
}

/** listen() failed: say where and why in one line (the port is taken, the host does not resolve…). */
function exitOnListenError(error: unknown, config: TapwireConfig, where: string): never {
  const e = error as NodeJS.ErrnoException;
  if (!e?.code) exitOnError(error, where);
  const address = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const why =
    e.code === 'EADDRINUSE'
      ? 'the address is already in use (another tapwire, or set TAPWIRE_PORT / --port)'
      : e.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : e.code === 'EADDRNOTAVAIL'
          ? 'the address is not available on this machine (check TAPWIRE_HOST / --host)'
          : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
            ? 'the host name does not resolve (check TAPWIRE_HOST / --host)'
            : e.message;
  fail(`cannot listen on ${address}: ${why}`, EXIT_UNAVAILABLE);
}

const parsePort = (value: string): string => {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return value;
};

async function serve(flags: CommonFlags & { host?: string; port?: string; role?: string }): Promise<void> {
  const config = configFrom({ databaseUrl: flags.databaseUrl, host: flags.host, port: flags.port, role: flags.role });
  const [{ TapwireServer }, { describeDatabaseUrl }] = await Promise.all([import('../tapwire-server.js'), import('../storage/open-store.js')]);
  const where = describeDatabaseUrl(config.databaseUrl);

  // Signals are handled from the start: one that arrives while the store opens or the server
  // starts listening is remembered and acted on once start-up has settled, so a SIGTERM never
  // races a half-started server (and never kills a migration halfway without a clean close).
  let server: TapwireServer | null = null;
  let started = false;
  let stopSignal: string | null = null;
  const shutDown = (running: TapwireServer, signal: string): void => {
    running.logger.info({ signal, inFlightAttempts: running.worker?.activeAttempts ?? 0 }, 'shutting down; finishing in-flight attempts');
    running.close().then(
      () => {
        running.logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        running.logger.error({ err: error }, 'shutdown failed');
        process.exit(EXIT_FAILED);
      },
    );
  };
  const onSignal = (signal: string): void => {
    if (stopSignal) {
      if (server) server.logger.warn({ signal }, 'second signal: exiting without waiting');
      else process.stderr.write(`tapwire: second ${signal}: exiting without waiting\n`);
      process.exit(EXIT_FAILED);
    }
    stopSignal = signal;
    if (server && started) shutDown(server, signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  try {
    server = await TapwireServer.create({ config });
  } catch (error) {
    exitOnError(error, where);
  }
  if (server.generatedAdminToken) {
    // Printed before listening, so a start that then fails (port taken) still shows it.
    process.stderr.write(
      [
        '',
        '  Tapwire created an admin token. It is shown only this once; only its hash is stored:',
        '',
        `    ${server.generatedAdminToken}`,
        '',
        '  Use it as "Authorization: Bearer <token>", or set TAPWIRE_ADMIN_TOKEN to choose your own.',
        '',
        '',
      ].join('\n'),
    );
  }
  if (!stopSignal) {
    try {
      const address = await server.start();
      // A worker-only process has no listening line; say it is up all the same.
      if (!address) server.logger.info({ role: config.role, store: server.store.kind }, 'tapwire worker running');
    } catch (error) {
      await server.close().catch(() => undefined);
      exitOnListenError(error, config, where);
    }
  }
  started = true;
  if (stopSignal) shutDown(server, stopSignal);
}

async function migrate(flags: CommonFlags): Promise<void> {
  const config = configFrom({ databaseUrl: flags.databaseUrl });
  const { describeDatabaseUrl, openStore, resolveEncryptionKeys } = await import('../storage/open-store.js');
  const where = describeDatabaseUrl(config.databaseUrl);
  try {
    const encryptionKeys = await resolveEncryptionKeys(config.databaseUrl, config.encryptionKeys);
    const store = await openStore(config.databaseUrl, { poolSize: 2, encryptionKeys });
    try {
      const { applied } = await store.migrate();
      process.stdout.write(applied.length > 0 ? `Applied migrations ${applied.join(', ')} to ${where}\n` : `Database ${where} is up to date\n`);
    } finally {
      await store.close();
    }
  } catch (error) {
    exitOnError(error, where);
  }
}

/** The services a token command runs with: the store (migrated), the config, the system clock. */
async function withTokenServices(
  flags: CommonFlags,
  work: (ctx: ServiceContext) => Promise<void>,
  options: { config?: TapwireConfig; notFound?: string } = {},
): Promise<void> {
  const resolved = options.config ?? configFrom({ databaseUrl: flags.databaseUrl });
  const [{ describeDatabaseUrl, openStore, resolveEncryptionKeys }, { systemClock }, { AddressPolicy }, { default: pino }] = await Promise.all([
    import('../storage/open-store.js'),
    import('../services/context.js'),
    import('../delivery/ssrf-guard.js'),
    import('pino'),
  ]);
  const where = describeDatabaseUrl(resolved.databaseUrl);
  try {
    const encryptionKeys = await resolveEncryptionKeys(resolved.databaseUrl, resolved.encryptionKeys);
    const store = await openStore(resolved.databaseUrl, { poolSize: 2, encryptionKeys });
    try {
      await store.migrate();
      await work({
        store,
        config: resolved,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        policy: new AddressPolicy(resolved.allowedNetworks),
        notifyDeliveriesQueued: () => undefined,
      });
    } finally {
      await store.close();
    }
  } catch (error) {
    if (error instanceof TapwireError && error.code === 'not_found') fail(options.notFound ?? error.detail, EXIT_FAILED);
    exitOnError(error, where);
  }
}

async function createToken(flags: CommonFlags & { app: string; ttl?: string; readOnly?: boolean; capabilities?: string; sessionId?: string }): Promise<void> {
  let ttlMs: number | undefined;
  let capabilities: PortalCapability[] | null = null;
  try {
    if (flags.ttl !== undefined) {
      try {
        ttlMs = parseDuration(flags.ttl);
      } catch (error) {
        throw new ConfigError(`--ttl: ${(error as Error).message}`);
      }
      if (ttlMs <= 0 || ttlMs > MAX_APP_TOKEN_TTL_MS) throw new ConfigError(`--ttl: expected a duration above zero and at most 7d, got '${flags.ttl}'`);
    }
    if (flags.capabilities !== undefined) capabilities = parseCapabilities(flags.capabilities);
  } catch (error) {
    exitOnError(error);
  }
  const { createAppToken } = await import('../services/auth.js');
  await withTokenServices(flags, async (ctx) => {
    const scope = { readOnly: flags.readOnly ?? false, capabilities, featureFlags: [], sessionId: flags.sessionId ?? null };
    const { token, appId, expiresAt } = await createAppToken(ctx, flags.app, { ...(ttlMs ? { ttlMs } : {}), scope });
    process.stderr.write(`Token for application ${appId}, valid until ${expiresAt.toISOString()}:\n`);
    process.stdout.write(`${token}\n`);
  }, { notFound: `no application '${flags.app}' (give its id or uid)` });
}

/** `--capabilities ViewBase,ManageEndpoint`: Svix's portal capabilities, ViewBase included. */
function parseCapabilities(value: string): PortalCapability[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !isCapability(name));
  if (unknown.length > 0) throw new ConfigError(`--capabilities: unknown ${unknown.join(', ')} (known: ${PORTAL_CAPABILITIES.join(', ')})`);
  if (!names.includes('ViewBase')) throw new ConfigError('--capabilities: ViewBase is always required');
  return [...new Set(names)] as PortalCapability[];
}

async function listTokens(flags: CommonFlags & { app?: string; admin?: boolean }): Promise<void> {
  if (!flags.app === !flags.admin) fail('give either --app <id> or --admin', EXIT_USAGE);
  const [{ listTokens: list }, { capabilitiesOf }] = await Promise.all([import('../services/auth.js'), import('../domain/token-scopes.js')]);
  await withTokenServices(flags, async (ctx) => {
    const tokens = await list(ctx, flags.app ?? null);
    const time = (date: Date | null): string => (date ? date.toISOString() : '-');
    const rows = tokens.map((t) => [t.id, time(t.createdAt), time(t.expiresAt), time(t.revokedAt), t.sessionId ?? '-', t.appId === null ? 'admin' : capabilitiesOf(t).join(',')]);
    const lines = [['ID', 'CREATED', 'EXPIRES', 'REVOKED AT', 'SESSION', 'CAPABILITIES'], ...rows];
    const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
    for (const line of lines) process.stdout.write(`${line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
    if (tokens.length === 0) process.stderr.write('No live tokens.\n');
  }, { notFound: `no application '${flags.app}' (give its id or uid)` });
}

async function revokeToken(id: string, flags: CommonFlags): Promise<void> {
  const { revokeToken: revoke } = await import('../services/auth.js');
  await withTokenServices(flags, async (ctx) => {
    if (!(await revoke(ctx, id))) fail(`no live token with id '${id}' (see tapwire token list)`, EXIT_FAILED);
    process.stderr.write(`Revoked ${id}; it stops working within TAPWIRE_LOOKUP_CACHE_TTL on every server.\n`);
  });
}

async function rotateAdminToken(flags: CommonFlags): Promise<void> {
  const config = configFrom({ databaseUrl: flags.databaseUrl });
  if (config.adminToken) fail('TAPWIRE_ADMIN_TOKEN is set, so stored admin tokens are not used: change that variable instead', EXIT_USAGE);
  const { rotateAdminToken: rotate } = await import('../services/auth.js');
  await withTokenServices(
    flags,
    async (ctx) => {
      const { token, revoked } = await rotate(ctx);
      process.stderr.write(`Revoked ${revoked} stored admin token(s). The new admin token (shown once):\n`);
      process.stdout.write(`${token}\n`);
    },
    { config },
  );
}

/** Every TAPWIRE_* variable serve reads, for `serve --help` (the README describes each). */
function environmentHelp(): string {
  const names = Object.values(ENV);
  const lines: string[] = [];
  let line = ' ';
  for (const name of names) {
    if (line.length + name.length + 1 > 78) {
      lines.push(line);
      line = ' ';
    }
    line += ` ${name}`;
  }
  lines.push(line);
  return `\nEnvironment (each described in the README; flags win over them):\n${lines.join('\n')}\n`;
}

async function rotateKey(flags: CommonFlags): Promise<void> {
  const config = configFrom({ databaseUrl: flags.databaseUrl });
  if (config.encryptionKeys === 'none') fail('TAPWIRE_ENCRYPTION_KEY=none: there is no key to seal with (new key first, then the old ones: NEW,OLD; make one with tapwire key generate)', EXIT_USAGE);
  const { resealEndpointSecrets } = await import('../services/endpoints.js');
  await withTokenServices(
    flags,
    async (ctx) => {
      const resealed = await resealEndpointSecrets(ctx.store);
      process.stderr.write(`Sealed ${resealed} endpoint(s) under the first key; the other keys may now be dropped from TAPWIRE_ENCRYPTION_KEY.\n`);
    },
    { config },
  );
}

const listenHelp = `
The signing secret is printed first and stays the same for the same application and token, so
configure your receiver with it once. One line per event follows (time, event type, message id,
local status, duration); Ctrl-C ends the session and prints a summary. See docs/listen.md.
`;

function parseForwardTo(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http:// or https:// URL');
  return url.toString();
}

/** `--since`: a duration back from now (1h, 30m) or an ISO time. */
function parseSince(value: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = new Date(value);
    if (!Number.isNaN(at.getTime())) return at;
  } else {
    try {
      return new Date(now.getTime() - parseDuration(value));
    } catch {
      // Reported below with the usage status.
    }
  }
  fail(`--since: expected a duration such as 1h or 30m, or an ISO time (got ${JSON.stringify(value)})`, EXIT_USAGE);
}

async function listen(flags: { forwardTo: string; app?: string; source?: string; events?: string; since?: string; server?: string; token?: string }): Promise<void> {
  if (!!flags.app === !!flags.source) fail('give exactly one of --app and --source', EXIT_USAGE);
  const serverUrl = flags.server ?? (process.env.TAPWIRE_SERVER_URL || 'http://127.0.0.1:8071');
  try {
    const url = new URL(serverUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    fail(`--server / TAPWIRE_SERVER_URL: expected an http:// or https:// URL (got ${JSON.stringify(serverUrl)})`, EXIT_USAGE);
  }
  const token = flags.token ?? process.env.TAPWIRE_TOKEN ?? '';
  if (!token) fail('no token: pass --token or set TAPWIRE_TOKEN (the admin token, or a token of the application)', EXIT_USAGE);
  const { ListenClient, ListenError, describeSummary } = await import('./listen.js');
  const client = new ListenClient({
    serverUrl,
    token,
    forwardTo: flags.forwardTo,
    app: flags.app ?? null,
    source: flags.source ?? null,
    eventTypes: flags.events ? flags.events.split(',').map((e) => e.trim()).filter(Boolean) : null,
    since: flags.since ? parseSince(flags.since, new Date()) : null,
    out: process.stdout,
    err: process.stderr,
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  });
  try {
    await client.start();
  } catch (error) {
    if (error instanceof ListenError) fail(error.message, EXIT_FAILED);
    throw error;
  }
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted++;
    // A second Ctrl-C does not wait for the session to end.
    if (interrupted > 1) process.exit(0);
    void client.stop().then((summary) => {
      process.stdout.write(`\n${describeSummary(summary)}\n`);
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await client.whenDone();
  // Ended by the server (or a refusal on reconnect): no Ctrl-C came.
  if (interrupted === 0) {
    process.stdout.write(`${describeSummary(client.counts)}\n`);
    process.exit(client.refused ? EXIT_FAILED : 0);
  }
}

function buildProgram(): Command {
  const program = new Command('tapwire')
    .description('Self-hosted webhook sending: durable, signed, retried deliveries with a Svix-compatible API')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError('(run tapwire --help for usage)')
    .exitOverride();
  const databaseOption = () =>
    // No .env() here: loadConfig reads TAPWIRE_DATABASE_URL itself, so an empty variable means
    // unset and errors name the variable, as for every other option.
    new Option('-d, --database-url <url>', 'SQLite file path, sqlite:PATH or postgres://… (default ./data/tapwire.db, env TAPWIRE_DATABASE_URL)');

  program
    .command('serve')
    .description('run the API and the delivery worker')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1, env TAPWIRE_HOST)')
    .option('-p, --port <port>', 'listen port; 0 picks a free one (default 8071, env TAPWIRE_PORT)', parsePort)
    .addOption(new Option('-r, --role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .addOption(databaseOption())
    .addHelpText('after', environmentHelp)
    .action(serve);

  program.command('migrate').description('apply database migrations and exit').addOption(databaseOption()).action(migrate);

  const token = program.command('token').description('manage API tokens');
  token
    .command('create')
    .description('mint a token scoped to one application (prints it on stdout)')
    .requiredOption('-a, --app <id>', 'application id or uid')
    .option('--ttl <duration>', 'lifetime, e.g. 12h or 7d, at most 7d (default 7d, env TAPWIRE_APP_TOKEN_TTL)')
    .option('--read-only', 'the token may only read (the same as --capabilities ViewBase)')
    .option('--capabilities <list>', `comma-separated, ViewBase required (default: all of ${PORTAL_CAPABILITIES.join(', ')})`)
    .option('--session-id <id>', 'a session id, so expire-all can end this session\'s tokens alone')
    .addOption(databaseOption())
    .action(createToken);
  token
    .command('list')
    .description("list an application's live tokens, or the stored admin tokens (ids, never the tokens)")
    .option('-a, --app <id>', 'application id or uid')
    .option('--admin', 'the stored admin tokens instead')
    .addOption(databaseOption())
    .action(listTokens);
  token
    .command('revoke')
    .description('revoke one token by its id (from token list); it stops working at once')
    .argument('<id>', 'token id, tok_…')
    .addOption(databaseOption())
    .action(revokeToken);
  token
    .command('rotate-admin')
    .description('revoke the stored admin tokens and print a new one (not with TAPWIRE_ADMIN_TOKEN set)')
    .addOption(databaseOption())
    .action(rotateAdminToken);
  program
    .command('listen')
    .description("forward a running server's webhooks to a local URL (over a WebSocket the CLI opens: works behind NAT)")
    .requiredOption('-f, --forward-to <url>', 'local URL each event is POSTed to, e.g. http://localhost:3000/webhooks', parseForwardTo)
    .option('-a, --app <app>', 'application id or uid to listen to')
    .option('--source <source>', 'ingest source id or uid to listen to (admin token)')
    .option('-e, --events <list>', 'only these event types, comma-separated (default: all)')
    .option('--since <when>', 'first replay what was accepted since then: a duration (1h, 30m) or an ISO time')
    .option('-s, --server <url>', 'Tapwire server URL (env TAPWIRE_SERVER_URL, default http://127.0.0.1:8071)')
    .option('-t, --token <token>', 'API token: the admin token, or a token of the application (env TAPWIRE_TOKEN)')
    .addHelpText('after', listenHelp)
    .action(listen);

  const key = program.command('key').description('encryption keys for secrets at rest (TAPWIRE_ENCRYPTION_KEY)');
  key
    .command('generate')
    .description('print a new random key (base64 of 32 bytes) for TAPWIRE_ENCRYPTION_KEY')
    .action(async () => {
      const { generateEncryptionKey } = await import('../storage/shared/secret-box.js');
      process.stdout.write(`${generateEncryptionKey()}\n`);
    });
  key
    .command('rotate')
    .description('seal every endpoint secret and header value under the first key of TAPWIRE_ENCRYPTION_KEY (also seals values stored before a key was set)')
    .addOption(databaseOption())
    .action(rotateKey);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; anything else commander rejects (including no command,
      // which prints the help on stderr) is a usage error.
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    exitOnError(error);
  }
}

void main();
