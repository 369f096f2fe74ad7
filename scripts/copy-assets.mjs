// Copies non-TypeScript files the server reads at run time (SQL migrations, the dashboard's page,
// scripts and styles) next to the compiled code.
import { cpSync, existsSync } from 'node:fs';

const assets = [
  ['src/storage/sqlite/migrations', 'dist/storage/sqlite/migrations'],
  ['src/storage/postgres/migrations', 'dist/storage/postgres/migrations'],
  ['src/dashboard/public', 'dist/dashboard/public'],
];
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to, { recursive: true });
}
