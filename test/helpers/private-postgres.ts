// A throwaway PostgreSQL cluster owned by one test file, for tests that must stop and start a REAL
// server (the shared test server cannot be restarted: other files use it at the same time). initdb
// into a fresh temp dir, pg_ctl start on a free loopback port with its socket in that dir, and
// stop/start/restart on demand. As root (how the suite runs in CI) the binaries run as the
// `postgres` OS user through runuser, since initdb refuses root. stopAllPrivatePostgres() in
// afterEach/afterAll stops every cluster (-m immediate) and removes its dir, even after a failure.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PG_ROOT = '/usr/lib/postgresql';
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'];
/** pg_ctl's own wait (-t) for start and stop, in seconds. */
const PG_CTL_TIMEOUT_S = 20;

/** The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, or null. */
export function postgresBinDir(): string | null {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length > 0 ? join(PG_ROOT, versions[0]!, 'bin') : null;
}

function runuserPath(): string | null {
  return RUNUSER.find((p) => existsSync(p)) ?? null;
}

/** uid and gid of the `postgres` OS user, from /etc/passwd, or null. */
function postgresUser(): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // No /etc/passwd: treated as missing.
  }
  return null;
}

const isRoot = process.getuid?.() === 0;

/** Why a private cluster cannot be made here, or null when it can. */
function missingPrerequisite(): string | null {
  if (!postgresBinDir()) return `no initdb/pg_ctl under ${PG_ROOT}/*/bin`;
  if (isRoot) {
    if (!runuserPath()) return 'running as root but runuser is missing (initdb refuses root)';
    if (!postgresUser()) return 'running as root but there is no `postgres` OS user to run initdb as';
  }
  return null;
}

let warned = false;

/**
 * Whether a private cluster can be made. When not: a loud warning and false outside CI; under
 * `CI=true` it throws, so the suite fails instead of quietly testing less (like backends()).
 */
export function privatePostgresAvailable(): boolean {
  const missing = missingPrerequisite();
  if (!missing) return true;
  if (process.env.CI === 'true') throw new Error(`Cannot create a private PostgreSQL cluster and CI=true: ${missing}`);
  if (!warned) {
    warned = true;
    console.warn(
      `\n${'!'.repeat(78)}\n!! Cannot create a private PostgreSQL cluster (${missing}): skipping the real-restart tests.\n` +
        `!! Install the PostgreSQL server binaries; under CI=true this fails.\n${'!'.repeat(78)}\n`,
    );
  }
  return false;
}

/** A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** The temp dir: data/ (the cluster), server.log, and the unix socket. */
  dir: string;
  /** pg_ctl start -w (returns once it accepts connections). */
  start(): Promise<void>;
  /** pg_ctl stop -m fast -w (returns once the server has exited; clients are disconnected). */
  stop(): Promise<void>;
  /** pg_ctl restart -m fast -w. */
  restart(): Promise<void>;
  /** The server log so far (for failure messages). */
  log(): string;
  /** Stop it (-m immediate, if running) and remove the dir. Idempotent. */
  destroy(): Promise<void>;
}

const clusters = new Set<PrivatePostgres>();

function run(file: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = isRoot ? [runuserPath()!, ['-u', 'postgres', '--', file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    // stdin/stdout/stderr are pipes that close when the command exits: pg_ctl is always given -l, so
    // the server it leaves running does not inherit them (otherwise this would wait for the server).
    execFile(cmd, argv, { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * initdb a fresh cluster in a temp dir and start it on a free loopback port (trust auth, user
 * `postgres`, fsync off). Call privatePostgresAvailable() first.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`no PostgreSQL binaries under ${PG_ROOT}/*/bin`);
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  mkdirSync(dataDir, { mode: 0o700 });
  if (isRoot) {
    const owner = postgresUser()!;
    chownSync(dir, owner.uid, owner.gid);
    chownSync(dataDir, owner.uid, owner.gid);
  }
  let port = 0;
  let running = false;
  let destroyed = false;
  const pgCtl = (args: string[]): Promise<unknown> => run(join(bin, 'pg_ctl'), ['-D', dataDir, '-t', String(PG_CTL_TIMEOUT_S), ...args], (PG_CTL_TIMEOUT_S + 5) * 1000);
  const serverOptions = (): string => `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const cluster: PrivatePostgres = {
    get port() {
      return port;
    },
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    dir,
    async start() {
      await pgCtl(['-l', logFile, '-o', serverOptions(), '-w', 'start']);
      running = true;
    },
    async stop() {
      await pgCtl(['-m', 'fast', '-w', 'stop']);
      running = false;
    },
    async restart() {
      running = false;
      await pgCtl(['-l', logFile, '-o', serverOptions(), '-m', 'fast', '-w', 'restart']);
      running = true;
    },
    log,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      clusters.delete(cluster);
      // Whatever the test last did, make sure no server is left behind (a no-op error if none runs).
      if (running || existsSync(join(dataDir, 'postmaster.pid'))) await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);
  try {
    await run(join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], 60_000);
    // A port free when picked may be taken before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await cluster.start();
        break;
      } catch (error) {
        if (attempt >= 3) throw new Error(`${(error as Error).message}\nserver log:\n${log()}`);
      }
    }
    return cluster;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/** Destroy every cluster still around. For afterEach/afterAll. */
export async function stopAllPrivatePostgres(): Promise<void> {
  await Promise.all([...clusters].map((c) => c.destroy()));
}
