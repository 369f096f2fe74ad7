// An integration (Svix's name): a named, long-lived credential of one application, for a third party
// (a Zapier-like connector, a partner's script) that acts on that application only. Its key is an
// application-scoped API token that never expires; rotating it replaces the key, deleting the
// integration revokes it.

export interface Integration {
  /** `integ_…` */
  id: string;
  appId: string;
  name: string;
  /** The feature flags whose event types the key may see (as a portal token's). */
  featureFlags: string[];
  /** The current key, in clear (the store keeps it sealed and only its hash in api_tokens). */
  key: string;
  createdAt: Date;
  updatedAt: Date;
}
