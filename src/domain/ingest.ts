// Ingest sources (Svix's Ingest API): a source receives webhooks from one provider at its ingest URL,
// verifies them with that provider's signature scheme, keeps each as a message of the source's own
// application and forwards it to the source's ingest endpoints (ordinary endpoints of that application).

/** The source types Tapwire verifies, with the receiver scheme each uses. */
export const INGEST_SOURCE_TYPES = ['generic-webhook', 'svix', 'stripe', 'github', 'shopify', 'slack'] as const;
export type IngestSourceType = (typeof INGEST_SOURCE_TYPES)[number];

/**
 * A source's provider settings, as Svix's `config` of the type: `{ secret }` (the provider's signing
 * secret; optional for github, absent for generic-webhook, whose requests are not verified).
 */
export interface IngestSourceConfig {
  secret?: string | null;
}

export interface IngestSource {
  /** `src_…` */
  id: string;
  uid: string | null;
  name: string;
  type: IngestSourceType;
  config: IngestSourceConfig;
  metadata: Record<string, string>;
  /** The application whose messages are the accepted events and whose endpoints are the ingest endpoints. */
  appId: string;
  /** The current URL token, in clear (the store keeps it sealed, and its hash for lookups). */
  token: string;
  createdAt: Date;
  updatedAt: Date;
}
