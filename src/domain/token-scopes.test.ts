import { describe, expect, it } from 'vitest';

import { allows, capabilitiesOf, FULL_SCOPE, PORTAL_CAPABILITIES } from './token-scopes.js';

describe('token scopes', () => {
  it('give a token minted without capabilities every one, so it may do everything', () => {
    expect(capabilitiesOf(FULL_SCOPE)).toEqual([...PORTAL_CAPABILITIES]);
    expect(allows(FULL_SCOPE, 'all')).toBe(true);
    expect(allows(FULL_SCOPE, ['ManageEndpoint'])).toBe(true);
  });

  it('leave a read-only token ViewBase alone, whatever else it was given', () => {
    const scope = { ...FULL_SCOPE, readOnly: true, capabilities: [...PORTAL_CAPABILITIES] };
    expect(capabilitiesOf(scope)).toEqual(['ViewBase']);
    expect(allows(scope, ['ViewBase'])).toBe(true);
    expect(allows(scope, ['ManageEndpoint', 'ManageEndpointSecret'])).toBe(false);
    expect(allows(scope, 'all')).toBe(false);
  });

  it('allow a route when the token has any one of the capabilities it accepts', () => {
    const scope = { ...FULL_SCOPE, capabilities: ['ViewBase', 'ViewEndpointSecret'] as const };
    const mutable = { ...scope, capabilities: [...scope.capabilities] };
    expect(allows(mutable, ['ViewEndpointSecret', 'ManageEndpointSecret'])).toBe(true);
    expect(allows(mutable, ['ManageEndpointSecret'])).toBe(false);
    expect(allows(mutable, 'all')).toBe(false);
    expect(allows({ ...FULL_SCOPE, capabilities: [...PORTAL_CAPABILITIES] }, 'all')).toBe(true);
  });
});
