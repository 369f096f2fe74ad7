// One run of a transformation in QuickJS compiled to WebAssembly: a fresh runtime and context per
// run, with a memory limit, a stack limit and a CPU deadline, and nothing of the host inside (no
// timers, no I/O, no require, no console). Synchronous: it blocks its thread for the whole run,
// which is why the worker calls it only inside the transformation threads (transformation-pool.ts).
import { shouldInterruptAfterDeadline, type QuickJSWASMModule } from 'quickjs-emscripten';

/** What one run needs: the code, the webhook as JSON, and the limits. */
export interface SandboxInput {
  code: string;
  /** The `webhook` object, as JSON (parsed inside the sandbox, so no host object crosses). */
  webhookJson: string;
  timeoutMs: number;
  memoryLimitBytes: number;
  /** Only load the code and check that it defines `handler` (saving code): the handler is not called. */
  checkOnly?: boolean;
}

/**
 * How a run ended: the handler's result as JSON (`ok`), or why not: it threw or returned nothing
 * usable (`error`), ran past its deadline (`timeout`), or past its memory limit (`memory`).
 */
export type SandboxResult =
  | { kind: 'ok'; resultJson: string; durationMs: number }
  | { kind: 'error' | 'timeout' | 'memory'; message: string; durationMs: number };

/** The interpreter's own stack, bounded below the WebAssembly stack so deep recursion is a RangeError, not an abort. */
const MAX_STACK_BYTES = 256 * 1024;

/**
 * Calls the handler and serializes its result inside the sandbox, so the host only ever reads a
 * string. A promise is refused: the sandbox has no event loop to settle it.
 */
const CALL_HANDLER = `(function (handler, input) {
  if (typeof handler !== 'function') throw new TypeError('the code must define function handler(webhook)');
  var result = handler(JSON.parse(input));
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    throw new TypeError('handler must return the webhook itself, not a promise (async handlers are not supported)');
  }
  var json = JSON.stringify(result);
  return json === undefined ? 'undefined' : json;
})`;

/**
 * Run `handler(webhook)` once. Never throws for anything the code does; a fault of QuickJS itself
 * (its WebAssembly instance aborting) is thrown, and the caller must then stop using `module`.
 */
export function runInSandbox(module: QuickJSWASMModule, input: SandboxInput): SandboxResult {
  const started = performance.now();
  const ended = (kind: 'error' | 'timeout' | 'memory', message: string): SandboxResult => ({ kind, message, durationMs: performance.now() - started });
  const runtime = module.newRuntime();
  try {
    runtime.setMemoryLimit(input.memoryLimitBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    const deadline = Date.now() + input.timeoutMs;
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
    const vm = runtime.newContext();
    try {
      const loaded = vm.evalCode(input.code, 'transformation.js');
      if (loaded.error) {
        const failure = describeError(vm.dump(loaded.error));
        loaded.error.dispose();
        return ended(classify(failure, deadline), failure);
      }
      loaded.value.dispose();
      if (input.checkOnly) {
        const kind = vm.unwrapResult(vm.evalCode('typeof handler', 'tapwire-check.js'));
        const type = vm.getString(kind);
        kind.dispose();
        if (type !== 'function') return ended('error', 'TypeError: the code must define function handler(webhook)');
        return { kind: 'ok', resultJson: 'null', durationMs: performance.now() - started };
      }
      const caller = vm.unwrapResult(vm.evalCode(CALL_HANDLER, 'tapwire-call.js'));
      const handler = vm.getProp(vm.global, 'handler');
      const inputString = vm.newString(input.webhookJson);
      const called = vm.callFunction(caller, vm.undefined, handler, inputString);
      caller.dispose();
      handler.dispose();
      inputString.dispose();
      if (called.error) {
        const failure = describeError(vm.dump(called.error));
        called.error.dispose();
        return ended(classify(failure, deadline), failure);
      }
      const resultJson = vm.getString(called.value);
      called.value.dispose();
      return { kind: 'ok', resultJson, durationMs: performance.now() - started };
    } finally {
      vm.dispose();
    }
  } finally {
    runtime.dispose();
  }
}

/** An exception from the sandbox as one line: `TypeError: x is not a function (line 3)`. */
function describeError(dumped: unknown): string {
  if (typeof dumped === 'object' && dumped !== null) {
    const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const message = typeof e.message === 'string' ? e.message : JSON.stringify(dumped);
    const line = typeof e.stack === 'string' ? /transformation\.js:(\d+)/.exec(e.stack)?.[1] : undefined;
    return `${name}: ${message}${line ? ` (line ${line})` : ''}`.slice(0, 1_000);
  }
  return `thrown: ${String(JSON.stringify(dumped)).slice(0, 1_000)}`;
}

/** QuickJS reports both limits as InternalErrors: `interrupted` past the deadline, `out of memory`. */
function classify(failure: string, deadline: number): 'error' | 'timeout' | 'memory' {
  if (failure.startsWith('InternalError: interrupted') && Date.now() >= deadline) return 'timeout';
  if (failure.startsWith('InternalError: out of memory')) return 'memory';
  return 'error';
}
