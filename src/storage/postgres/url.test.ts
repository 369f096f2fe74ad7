import { describe, expect, it } from 'vitest';
import { parsePostgresUrl, withSessionOptions } from './url.js';

const optionsOf = (url: string): string | null => new URL(url).searchParams.get('options');

describe('PostgreSQL connection strings', () => {
  it('turn ?schema= into a search_path startup option, keeping options already given', () => {
    const plain = parsePostgresUrl('postgres://u@127.0.0.1:5432/db?schema=tenant_a');
    expect(plain.schema).toBe('tenant_a');
    expect(optionsOf(plain.connectionString)).toBe('-c search_path=tenant_a');
    const merged = parsePostgresUrl(`postgres://u@127.0.0.1:5432/db?options=${encodeURIComponent('-c work_mem=8MB')}&schema=s1`);
    expect(optionsOf(merged.connectionString)).toBe('-c work_mem=8MB -c search_path=s1');
    expect(parsePostgresUrl('postgres://u@127.0.0.1/db')).toEqual({ connectionString: 'postgres://u@127.0.0.1/db', schema: null });
  });

  it('add session settings to a connection string without losing its own', () => {
    const { connectionString } = parsePostgresUrl('postgres://u:p%40ss@127.0.0.1:5432/db?schema=s1&sslmode=disable');
    const url = new URL(withSessionOptions(connectionString, '-c enable_seqscan=off'));
    expect(url.searchParams.get('options')).toBe('-c search_path=s1 -c enable_seqscan=off');
    expect(url.searchParams.get('sslmode')).toBe('disable');
    expect(url.password).toBe('p%40ss');
    expect(optionsOf(withSessionOptions('postgres://127.0.0.1/db', '-c a=b'))).toBe('-c a=b');
  });
});
