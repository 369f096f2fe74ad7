// Runs the built `tapwire` binary (dist/cli/main.js) as a real child process, the way users run it:
// one-shot commands with runCli(), servers with startServe(), which waits for the "tapwire listening"
// log line and reads the address from it (so `--port 0` works). Every child is tracked so a test's
// afterEach can kill whatever is still running with killAllProcesses(), even after a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_ENCRYPTION_KEY } from './postgres.js';

/** The built CLI; `npm test` builds before running vitest. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const live = new Set<ChildProcess>();

/**
 * process.env without any TAPWIRE_* variable (so the developer's shell cannot leak in), plus the
 * test encryption key (PostgreSQL refuses to start without one) and `extra`. A test of what happens
 * without a key gives `TAPWIRE_ENCRYPTION_KEY: ''` (unset).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TAPWIRE_')) env[key] = value;
  return { ...env, TAPWIRE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, ...extra };
}

export function assertCliBuilt(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` (npm test does) before these tests`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
}

interface SpawnOptions {
  cwd: string;
  /** Added to cleanEnv(). */
  env?: Record<string, string>;
}

function spawnCli(args: string[], options: SpawnOptions): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, exited };
}

/** Run one command to completion; SIGKILLed (and rejected) after `timeoutMs`. */
export async function runCli(args: string[], options: SpawnOptions & { timeoutMs?: number }): Promise<CliRun> {
  const { child, exited } = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const streamsDone = Promise.all([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => child.stderr!.once('close', r))]);
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tapwire ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
  });
  try {
    const exit = await Promise.race([exited, timedOut]);
    await streamsDone;
    return { ...exit, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A running `tapwire serve`. */
export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`, from the "tapwire listening" log line ('' for a worker-only process). */
  url: string;
  /** Everything printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Parsed JSON log lines from stdout so far. */
  readonly logs: Array<Record<string, unknown>>;
  exited: Promise<Exit>;
  /** Resolve with the first log line (existing or future) that `predicate` accepts. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

/**
 * Start `tapwire serve --port 0 …` and wait until it logs "tapwire listening". Rejects with its
 * output if it exits first or is not listening within `timeoutMs`.
 */
export async function startServe(
  options: SpawnOptions & { args?: string[]; timeoutMs?: number; /** Default: the "tapwire listening" line. */ ready?: (line: Record<string, unknown>) => boolean },
): Promise<ServeProcess> {
  const { child, exited } = spawnCli(['serve', '--port', '0', ...(options.args ?? [])], options);
  let stdout = '';
  let stderr = '';
  let partial = '';
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log line (nothing else should be on stdout, but do not fail on it here).
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let exit: Exit | null = null;
  void exited.then((e) => {
    exit = e;
    for (const wake of waiters) wake();
  });

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
    waitForOutput(waiters, {
      find: () => logs.find(predicate),
      exit: () => exit,
      timeoutMs,
      what: 'the expected log line',
      output: () => `stdout: ${stdout}\nstderr: ${stderr}`,
    });

  const ready = await waitForLog(options.ready ?? ((line) => line.msg === 'tapwire listening'), options.timeoutMs ?? 15_000);
  return {
    child,
    url: String(ready.address ?? ''),
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    logs,
    exited,
    waitForLog,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!exit) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`tapwire did not exit within ${timeoutMs} ms of ${signal}\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** SIGKILL every child still running and wait for each to exit. For afterEach/afterAll. */
export async function killAllProcesses(): Promise<number> {
  const running = [...live];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  return running.length;
}

/** fetch with a bearer token, JSON in and out. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** POST one `order.created` message numbered `n`; the answer and how long it took. */
export async function postMessage(api: ServeProcess, token: string, appId: string, n: number): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const res = await callApi(api.url, 'POST', `/api/v1/app/${appId}/msg`, { token, body: { eventType: 'order.created', payload: { n } } });
  return { ...res, ms: Date.now() - started };
}

/** POST messages `from` … `from + count - 1` one after another; each must be accepted (202). Their ids. */
export async function postAccepted(api: ServeProcess, token: string, appId: string, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n++) {
    const res = await postMessage(api, token, appId, n);
    if (res.status !== 202) throw new Error(`message ${n}: expected 202, got ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(res.body.id as string);
  }
  return ids;
}

/** True while none of these processes has exited. */
export function stillRunning(...procs: ServeProcess[]): boolean {
  return procs.every((proc) => proc.child.exitCode === null && proc.child.signalCode === null);
}

/** A long-running CLI command (such as `tapwire listen`) whose output lines a test waits on. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<Exit>;
  /** Resolve with the first stdout or stderr line (existing or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Lines of stdout matching `pattern` so far. */
  lines(pattern: RegExp): string[];
}

/** Start `tapwire <args>` and return at once; every line it prints can be waited for. */
export function startCli(args: string[], options: SpawnOptions): CliProcess {
  const { child, exited } = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  let exit: Exit | null = null;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of waiters) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    wake();
  });
  void exited.then((e) => {
    exit = e;
    wake();
  });
  const allLines = (): string[] => `${stdout}\n${stderr}`.split('\n');
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    lines: (pattern) => stdout.split('\n').filter((line) => pattern.test(line)),
    waitForLine: (pattern, timeoutMs = 15_000) =>
      waitForOutput(waiters, {
        find: () => allLines().find((line) => pattern.test(line)),
        exit: () => exit,
        timeoutMs,
        what: `tapwire ${args[0]} printing ${pattern}`,
        output: () => `stdout: ${stdout}\nstderr: ${stderr}`,
      }),
  };
}

/**
 * Resolve with what `find` finds once it finds something, checked now and at each wake-up (new
 * output, the exit); reject when the process exits first or after `timeoutMs`, with its output.
 */
function waitForOutput<T>(
  waiters: Set<() => void>,
  input: { find: () => T | undefined; exit: () => Exit | null; timeoutMs: number; what: string; output: () => string },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = input.find();
      if (found !== undefined) {
        done();
        resolve(found);
      } else if (input.exit()) {
        done();
        reject(new Error(`tapwire exited (${JSON.stringify(input.exit())}) before ${input.what}\n${input.output()}`));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${input.what}: not seen within ${input.timeoutMs} ms\n${input.output()}`));
    }, input.timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}
