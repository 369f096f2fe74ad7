// The harness drives its helper processes (receiver, relay) over Node's IPC channel: a child
// announces itself with one `ready` message, then answers numbered calls. Control traffic only;
// the measured traffic is always HTTP.
import { fork, type ChildProcess } from 'node:child_process';

interface CallMessage {
  call: number;
  method: string;
  params: unknown;
}

interface AnswerMessage {
  call: number;
  result?: unknown;
  error?: string;
}

/** Handlers a child serves, by method name. */
export type CallHandlers = Record<string, (params: never) => unknown>;

/** In a child: tell the parent we are up, then answer its calls; exit when the parent goes away. */
export function serveCalls(ready: unknown, handlers: CallHandlers): void {
  process.on('message', (message: CallMessage) => {
    const handler = handlers[message.method] as ((params: unknown) => unknown) | undefined;
    void (async () => {
      try {
        if (!handler) throw new Error(`no such method: ${message.method}`);
        process.send!({ call: message.call, result: await handler(message.params) } satisfies AnswerMessage);
      } catch (error) {
        process.send!({ call: message.call, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies AnswerMessage);
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready });
}

/** A helper process started by the harness, and the calls it answers. */
export class HelperProcess<Ready> {
  private nextCall = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exitError: Error | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    child.on('message', (message: AnswerMessage) => {
      const waiter = this.pending.get(message.call);
      if (!waiter) return;
      this.pending.delete(message.call);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`helper ${child.spawnargs.slice(1).join(' ')} exited (${code ?? signal})`);
      for (const waiter of this.pending.values()) waiter.reject(this.exitError);
      this.pending.clear();
    });
  }

  /** Fork `modulePath` with `args` and wait for its ready message. */
  static async start<Ready>(modulePath: string, args: string[], timeoutMs = 10_000): Promise<HelperProcess<Ready>> {
    const child = fork(modulePath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${modulePath} was not ready within ${timeoutMs} ms`)), timeoutMs);
      child.once('message', (message: { ready?: Ready }) => {
        clearTimeout(timer);
        resolve(message.ready as Ready);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${modulePath} exited with ${code} before it was ready`));
      });
    });
    return new HelperProcess(child, ready);
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T>(method: string, params: unknown = {}): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const call = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(call, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ call, method, params } satisfies CallMessage);
    });
  }

  /** Disconnect (the child exits by itself) and wait; SIGKILL after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    if (this.child.connected) this.child.disconnect();
    else this.child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }
}
