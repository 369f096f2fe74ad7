// What every use case needs: the store, the configuration, the clock, a logger, and a way to tell
// the delivery worker that new deliveries are due. The API and the CLI build one of these.
import type { Logger } from 'pino';
import type { TapwireConfig } from '../config/config.js';
import type { EndpointConcurrency } from '../delivery/delivery-lanes.js';
import type { AddressPolicy } from '../delivery/ssrf-guard.js';
import type { Transformations } from '../delivery/transformations.js';
import type { OperationalEvents } from '../operational/operational-events.js';
import type { DeliveryHandoff, DeliveryJob, Store } from '../storage/store.js';
import type { LookupCache } from './lookup-cache.js';

/** Injected time, so retry tests take milliseconds instead of hours. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface ServiceContext {
  store: Store;
  config: TapwireConfig;
  clock: Clock;
  logger: Logger;
  policy: AddressPolicy;
  /** Called after deliveries were committed, so an in-process worker claims them without polling delay. */
  notifyDeliveriesQueued(): void;
  /** Builds operational events (endpoint.created…); absent or null when TAPWIRE_OPERATIONAL_WEBHOOK_URL is unset. */
  operational?: OperationalEvents | null;
  /** Recent token and application lookups of this process (TAPWIRE_LOOKUP_CACHE_TTL); absent: every lookup reads the store. */
  lookups?: LookupCache;
  /**
   * What this process's delivery worker offers to take of an accept's deliveries at once (see
   * DeliveryHandoff); absent, or null, when it runs no worker or has no room.
   */
  deliveryHandoff?: () => DeliveryHandoff | null;
  /** Gives this process's worker the deliveries an accept handed off to it (leased to it already). */
  adoptDeliveries?: (jobs: DeliveryJob[]) => void;
  /** What this process's delivery worker knows of an endpoint's concurrency; absent when the process runs no worker. */
  deliveryConcurrency?: (endpointId: string) => EndpointConcurrency | null;
  /** The sandbox threads that run endpoint transformations (for deliveries and the simulate API); started on first use. */
  transformations?: Transformations;
}
