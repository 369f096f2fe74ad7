// `tapwire/receiver` is imported by apps that only receive webhooks: it must not drag in the server
// (Fastify, pino, the stores) or a database driver unless the inbox is used. Checked two ways: the
// static import graph of the compiled files, and the modules a real `import('tapwire/receiver')` loads.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const scratch = mkdtempSync(join(tmpdir(), 'tapwire-boundary-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every module the file imports statically (`import … from`, `export … from`, bare `import '…'`). */
function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
    found.push((match[1] ?? match[2])!);
  }
  return found;
}

/** The files reachable from `entry` through static imports, and every non-relative specifier met. */
function staticGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files: [...files].map((file) => relative(dist, file)).sort(), packages: [...packages].sort() };
}

function loadedBy(script: string): string[] {
  const record = join(scratch, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  execFileSync(process.execPath, ['--import', join(root, 'test/fixtures/record-imports.mjs'), '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, RECORD_IMPORTS_TO: record },
  });
  return readFileSync(record, 'utf8').split('\n').filter(Boolean);
}

const SERVER_PACKAGES = ['fastify', 'pino', 'pg', 'better-sqlite3', 'undici', 'commander', 'ajv', '@sinclair/typebox', 'ipaddr.js'];

describe('tapwire/receiver import boundary', () => {
  it('statically imports only node: builtins and its own and the signing files', () => {
    const { files, packages } = staticGraph(join(dist, 'receiver/index.js'));
    expect(packages.every((name) => name.startsWith('node:')), `packages: ${packages.join(', ')}`).toBe(true);
    const outside = files.filter((file) => !file.startsWith('receiver/') && !file.startsWith('signing/'));
    expect(outside).toEqual([]);
  });

  it('loads no server module and no database driver when imported through the package export', () => {
    const urls = loadedBy("const receiver = await import('tapwire/receiver'); if (typeof receiver.standardWebhooks !== 'function') process.exit(3);");
    const fromPackages = urls.filter((url) => url.includes('/node_modules/'));
    expect(fromPackages).toEqual([]);
    const projectFiles = urls.filter((url) => url.startsWith('file:')).map((url) => relative(dist, fileURLToPath(url)));
    expect(projectFiles.filter((file) => !file.startsWith('receiver/') && !file.startsWith('signing/'))).toEqual([]);
    for (const name of SERVER_PACKAGES) expect(urls.some((url) => url.includes(`/node_modules/${name}/`))).toBe(false);
  });

  it('loads the SQLite driver only once an inbox is created', () => {
    const database = join(scratch, 'inbox.db');
    const urls = loadedBy(
      `const { createInbox } = await import('tapwire/receiver');
       const inbox = await createInbox({ database: ${JSON.stringify(database)}, handlers: {}, autoStart: false });
       await inbox.close();`,
    );
    expect(urls.some((url) => url.includes('/node_modules/better-sqlite3/'))).toBe(true);
    expect(urls.some((url) => url.includes('/node_modules/pg/'))).toBe(false);
    expect(urls.some((url) => url.includes('/node_modules/fastify/'))).toBe(false);
  });
});
