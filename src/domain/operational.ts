// The reserved application that holds operational webhooks: its endpoints are the operational
// webhook endpoints (/api/v1/operational-webhook/endpoint) and its messages the operational events.
// It is reached by its uid like any application, but left out of the application list: it is
// Tapwire's own, not a customer's.

/** uid of the application that holds operational events (created with the first operational endpoint). */
export const OPERATIONAL_APP_UID = 'tapwire-operational';
