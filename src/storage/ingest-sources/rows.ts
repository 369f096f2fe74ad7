// Ingest source rows ↔ records, the same for both databases: config and token are sealed on the way
// in and opened on the way out; metadata is JSON text.
import type { IngestSource, IngestSourceType } from '../../domain/ingest.js';
import type { SecretSealer } from '../shared/secret-box.js';

export interface IngestSourceRow {
  id: string;
  uid: string | null;
  name: string;
  type: string;
  config: string;
  metadata: string;
  app_id: string;
  token: string;
  created_at: number | string;
  updated_at: number | string;
}

export function toIngestSource(r: IngestSourceRow, secrets: SecretSealer): IngestSource {
  return {
    id: r.id,
    uid: r.uid,
    name: r.name,
    type: r.type as IngestSourceType,
    config: JSON.parse(secrets.open(r.config)) as IngestSource['config'],
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    appId: r.app_id,
    token: secrets.open(r.token),
    createdAt: new Date(Number(r.created_at)),
    updatedAt: new Date(Number(r.updated_at)),
  };
}

export function ingestSourceParams(s: IngestSource, tokenHash: string, secrets: SecretSealer): Record<string, unknown> {
  return {
    id: s.id,
    uid: s.uid,
    name: s.name,
    type: s.type,
    config: secrets.seal(JSON.stringify(s.config)),
    metadata: JSON.stringify(s.metadata),
    appId: s.appId,
    token: secrets.seal(s.token),
    tokenHash,
    createdAt: s.createdAt.getTime(),
    updatedAt: s.updatedAt.getTime(),
  };
}

export function ingestSourceUpdateParams(s: Pick<IngestSource, 'id' | 'uid' | 'name' | 'type' | 'config' | 'metadata' | 'updatedAt'>, secrets: SecretSealer): Record<string, unknown> {
  return {
    id: s.id,
    uid: s.uid,
    name: s.name,
    type: s.type,
    config: secrets.seal(JSON.stringify(s.config)),
    metadata: JSON.stringify(s.metadata),
    updatedAt: s.updatedAt.getTime(),
  };
}

export const INGEST_SOURCE_CONFLICTS = (uid: string | null): Record<string, string> => ({
  'ingest_sources.uid': `An ingest source with uid '${uid}' already exists`,
  'ingest_sources.id': 'An ingest source with this id already exists',
});
