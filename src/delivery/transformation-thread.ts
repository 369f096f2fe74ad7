// The body of a transformation thread: it owns one QuickJS WebAssembly module and runs one
// transformation at a time for the pool (transformation-pool.ts). Kept in its own thread so a
// handler that spins until its deadline blocks this thread, never the worker's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { newQuickJSWASMModule } from 'quickjs-emscripten';
import { runInSandbox, type SandboxInput, type SandboxResult } from './transformation-sandbox.js';

/** A run asked of the thread. */
export interface SandboxCall {
  id: number;
  input: SandboxInput;
}

/** Its answer. */
export interface SandboxReply {
  id: number;
  result: SandboxResult;
}

const port = parentPort;
if (port && (workerData as { tapwireTransformationThread?: boolean } | null)?.tapwireTransformationThread) {
  // Its own module per thread: QuickJS state never crosses threads, and a module that faults
  // (below) takes only its thread down.
  const module = await newQuickJSWASMModule();
  port.on('message', (call: SandboxCall) => {
    let result: SandboxResult;
    let broken = false;
    try {
      result = runInSandbox(module, call.input);
    } catch (error) {
      // QuickJS itself failed (its WebAssembly instance aborted): this module cannot be trusted
      // again, so the thread answers and ends, and the pool starts a fresh one.
      broken = true;
      result = { kind: 'error', message: `the sandbox failed while running the transformation: ${error instanceof Error ? error.message : String(error)}`.slice(0, 1_000), durationMs: 0 };
    }
    port.postMessage({ id: call.id, result } satisfies SandboxReply);
    if (broken) process.exit(1);
  });
}
