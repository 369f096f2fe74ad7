#!/usr/bin/env node
// The `tapwire` binary: serve, migrate, token create. The only place that reads process.env;
// everything below it takes typed options.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig, type TapwireConfig } from '../config/config.js';
import { parseDuration } from '../domain/duration.js';
import { TapwireError } from '../errors/tapwire-error.js';
import { createAppToken } from '../services/auth.js';
import { systemClock } from '../services/context.js';
import { AddressPolicy } from '../delivery/ssrf-guard.js';
import { describeDatabaseUrl, openStore } from '../storage/open-store.js';
import { TapwireServer } from '../tapwire-server.js';
import { VERSION } from '../version.js';
import pino from 'pino';

/** Exit status for a bad flag or environment value. */
const EXIT_USAGE = 2;
/** Exit status when the database cannot be opened or migrated. */
const EXIT_UNAVAILABLE = 3;

interface CommonFlags {
  databaseUrl?: string;
}

function configFrom(flags: Record<string, string | undefined>): TapwireConfig {
  return loadConfig({ env: process.env, flags });
}

function fail(message: string, code: number): never {
  process.stderr.write(`tapwire: ${message}\n`);
  process.exit(code);
}

/** Turn any startup error into a clear message and exit status. */
function exitOnError(error: unknown, databaseUrl?: string): never {
  if (error instanceof ConfigError) fail(error.message, EXIT_USAGE);
  if (error instanceof TapwireError) {
    const where = databaseUrl ? ` (${describeDatabaseUrl(databaseUrl)})` : '';
    if (error.code === 'store_unavailable') fail(`cannot open the database${where}: ${error.detail}`, EXIT_UNAVAILABLE);
    fail(error.detail, EXIT_USAGE);
  }
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE') fail(`the address is already in use: ${e.message}`, EXIT_UNAVAILABLE);
  if (e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') fail(`cannot listen: ${e.message}`, EXIT_UNAVAILABLE);
  fail(e?.stack ?? String(error), 1);
}

const parsePort = (value: string): string => {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return value;
};

async function serve(flags: CommonFlags & { host?: string; port?: string; role?: string }): Promise<void> {
  let config: TapwireConfig;
  try {
    config = configFrom({ databaseUrl: flags.databaseUrl, host: flags.host, port: flags.port, role: flags.role });
  } catch (error) {
    exitOnError(error);
  }
  let server: TapwireServer;
  try {
    server = await TapwireServer.create({ config });
  } catch (error) {
    exitOnError(error, config.databaseUrl);
  }
  if (server.generatedAdminToken) {
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
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      server.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    server.logger.info({ signal, inFlightAttempts: server.worker?.activeAttempts ?? 0 }, 'shutting down; finishing in-flight attempts');
    server.close().then(
      () => {
        server.logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await server.start();
  } catch (error) {
    await server.close().catch(() => undefined);
    exitOnError(error, config.databaseUrl);
  }
}

async function migrate(flags: CommonFlags): Promise<void> {
  let config: TapwireConfig;
  try {
    config = configFrom({ databaseUrl: flags.databaseUrl });
  } catch (error) {
    exitOnError(error);
  }
  try {
    const store = await openStore(config.databaseUrl);
    try {
      const { applied } = await store.migrate();
      process.stdout.write(
        applied.length > 0
          ? `Applied migrations ${applied.join(', ')} to ${describeDatabaseUrl(config.databaseUrl)}\n`
          : `Database ${describeDatabaseUrl(config.databaseUrl)} is up to date\n`,
      );
    } finally {
      await store.close();
    }
  } catch (error) {
    exitOnError(error, config.databaseUrl);
  }
}

async function createToken(flags: CommonFlags & { app: string; ttl?: string }): Promise<void> {
  let config: TapwireConfig;
  let ttlMs: number | undefined;
  try {
    config = configFrom({ databaseUrl: flags.databaseUrl });
    if (flags.ttl !== undefined) {
      try {
        ttlMs = parseDuration(flags.ttl);
      } catch (error) {
        throw new ConfigError(`--ttl: ${(error as Error).message}`);
      }
    }
  } catch (error) {
    exitOnError(error);
  }
  try {
    const store = await openStore(config.databaseUrl);
    try {
      await store.migrate();
      const ctx = {
        store,
        config,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        policy: new AddressPolicy(config.allowedNetworks),
        notifyDeliveriesQueued: () => undefined,
      };
      const { token, appId, expiresAt } = await createAppToken(ctx, flags.app, ttlMs);
      process.stderr.write(`Token for application ${appId}, valid until ${expiresAt.toISOString()}:\n`);
      process.stdout.write(`${token}\n`);
    } finally {
      await store.close();
    }
  } catch (error) {
    if (error instanceof TapwireError && error.code === 'not_found') fail(`no application '${flags.app}' (give its id or uid)`, 1);
    exitOnError(error, config.databaseUrl);
  }
}

function buildProgram(): Command {
  const program = new Command('tapwire')
    .description('Self-hosted webhook sending: durable, signed, retried deliveries with a Svix-compatible API')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError('(run tapwire --help for usage)')
    .exitOverride();
  const databaseOption = () =>
    new Option('-d, --database-url <url>', 'SQLite file path, sqlite:PATH (default ./data/tapwire.db) or postgres://…').env('TAPWIRE_DATABASE_URL');

  program
    .command('serve')
    .description('run the API and the delivery worker')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1, env TAPWIRE_HOST)')
    .option('-p, --port <port>', 'listen port (default 8071, env TAPWIRE_PORT)', parsePort)
    .addOption(new Option('-r, --role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .addOption(databaseOption())
    .action(serve);

  program.command('migrate').description('apply database migrations and exit').addOption(databaseOption()).action(migrate);

  const token = program.command('token').description('manage API tokens');
  token
    .command('create')
    .description('mint a token scoped to one application (prints it on stdout)')
    .requiredOption('-a, --app <id>', 'application id or uid')
    .option('--ttl <duration>', 'lifetime, e.g. 30d or 12h (default 7d, env TAPWIRE_APP_TOKEN_TTL)')
    .addOption(databaseOption())
    .action(createToken);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; anything else commander rejects is a usage error.
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    throw error;
  }
}

void main();
