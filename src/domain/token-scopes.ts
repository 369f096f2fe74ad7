// What a token may do. Admin tokens may do everything; an application's portal token carries the
// capabilities it was minted with (Svix's app-portal-access semantics): ViewBase to read, and one
// capability per kind of change. A token minted without any keeps every capability, as in Svix.

/** The longest a portal token may live, and its default (Svix's: 7 days). */
export const MAX_APP_TOKEN_TTL_MS = 7 * 24 * 3600_000;

/** The capabilities of a portal token, as Svix names them. */
export const PORTAL_CAPABILITIES = [
  'ViewBase',
  'ViewEndpointSecret',
  'ManageEndpointSecret',
  'ManageTransformations',
  'CreateAttempts',
  'ManageEndpoint',
] as const;

export type PortalCapability = (typeof PORTAL_CAPABILITIES)[number];

/**
 * What one route needs of a portal token: any one of these capabilities, or `all` for what no
 * capability names (expunging a message's payload, say), which only a token with every capability
 * may do.
 */
export type CapabilityNeed = readonly PortalCapability[] | 'all';

/** What a token was minted with. */
export interface TokenScope {
  /** Svix's older switch: a read-only token has ViewBase alone, whatever else it was given. */
  readOnly: boolean;
  /** null = every capability (nothing was asked for). */
  capabilities: PortalCapability[] | null;
  /** The feature flags whose event types the token may see and subscribe to. */
  featureFlags: string[];
  /** Given at minting; expire-all can end the tokens of chosen sessions only. */
  sessionId: string | null;
}

/** The scope of a token minted without restrictions. */
export const FULL_SCOPE: TokenScope = { readOnly: false, capabilities: null, featureFlags: [], sessionId: null };

export function isCapability(value: string): value is PortalCapability {
  return (PORTAL_CAPABILITIES as readonly string[]).includes(value);
}

/** The capabilities a token of this scope has. */
export function capabilitiesOf(scope: TokenScope): PortalCapability[] {
  if (scope.readOnly) return ['ViewBase'];
  return scope.capabilities ?? [...PORTAL_CAPABILITIES];
}

/** Whether a token of this scope may do what a route needs. */
export function allows(scope: TokenScope, need: CapabilityNeed): boolean {
  const has = capabilitiesOf(scope);
  if (need === 'all') return PORTAL_CAPABILITIES.every((capability) => has.includes(capability));
  return need.some((capability) => has.includes(capability));
}

/**
 * Whether a token with these feature flags sees an event type behind `featureFlags` (null or empty:
 * seen by all; otherwise the token needs at least one of them). `flags` null: no restriction (the
 * admin token).
 */
export function seesFeatures(featureFlags: readonly string[] | null, flags: readonly string[] | null): boolean {
  return featureFlags === null || featureFlags.length === 0 || flags === null || featureFlags.some((flag) => flags.includes(flag));
}
