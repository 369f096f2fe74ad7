// One Store made of subject parts, written once for both databases: each operation is the method of
// the subject that owns it (src/storage/<subject>/{sqlite,postgres}.ts). SqliteStore and PostgresStore
// add only what is really per database: opening, migrating, LISTEN/NOTIFY, health and closing.
import type { Store } from '../store.js';

/** Which subject owns which Store operation: the map from the interface to the folders. */
export const OPERATIONS = {
  applications: ['createApplication', 'getApplication', 'updateApplication', 'deleteApplication', 'listApplications'],
  endpoints: ['createEndpoint', 'getEndpoint', 'updateEndpoint', 'deleteEndpoint', 'setEndpointTransformation', 'listEndpoints', 'resealEndpoints', 'hasActiveEndpointFor'],
  eventTypes: ['createEventType', 'getEventType', 'saveEventType', 'deleteEventType', 'listEventTypes', 'saveEventTypes'],
  messages: ['createMessage', 'getMessage', 'getMessagesByIds', 'listMessages', 'expungeMessageContent', 'listMessageDestinations', 'listAttemptedMessages', 'expungeMessageContents'],
  deliveries: ['createManualDelivery', 'recoverFailedDeliveries', 'nextDueAt', 'queueSnapshot', 'getDelivery', 'getFifoLine', 'countBlockedFifoEndpoints'],
  claims: ['claimDueDeliveries', 'renewLeases'],
  completion: ['completeAttempt'],
  attempts: ['listAttempts', 'getAttempt', 'expungeAttemptContent'],
  integrations: ['createIntegration', 'getIntegration', 'listIntegrations', 'updateIntegration', 'rotateIntegrationKey', 'deleteIntegration', 'resealIntegrationKeys'],
  ingestSources: [
    'createIngestSource', 'getIngestSource', 'findIngestSourceByToken', 'listIngestSources', 'updateIngestSource', 'rotateIngestSourceToken',
    'deleteIngestSource', 'resealIngestSources',
  ],
  listenSessions: [
    'saveListenSession', 'getListenSession', 'listListenSessions', 'touchListenSessions', 'markListenSessionDetached', 'listExpiredListenSessions',
    'deleteListenSession',
  ],
  auth: ['createToken', 'findToken', 'hasAdminToken', 'listTokens', 'revokeTokens', 'getIdempotentResponse', 'saveIdempotentResponse'],
  backgroundTasks: [
    'createBackgroundTask', 'getBackgroundTask', 'listBackgroundTasks', 'claimBackgroundTasks', 'runReplayMissingBatch', 'releaseBackgroundTask',
    'runBulkReplayBatch', 'runPurgeContentBatch', 'saveBackgroundTaskProgress', 'countApplicationUsage', 'listApplicationEndpointFilters',
    'finishBackgroundTask',
  ],
  retention: ['expireMessagePayloads', 'pruneAttempts', 'pruneIdempotency'],
  stats: ['getEndpointStats', 'countAttemptsOverTime', 'listUnhealthyEndpoints', 'listSlowestEndpoints'],
} as const satisfies Record<string, readonly (keyof Store)[]>;

type Subject = keyof typeof OPERATIONS;
/** Every operation a subject owns. */
export type SubjectOperation = (typeof OPERATIONS)[Subject][number];

/** The operations of each subject, as each database's part of that subject implements them. */
export type StoreParts = { [S in Subject]: Pick<Store, (typeof OPERATIONS)[S][number]> };

// The operations StoreOfParts gets from its parts (set in its constructor), merged into the class.
export interface StoreOfParts extends Pick<Store, SubjectOperation> {}

/**
 * The Store operations every database implements through its subject parts; see Store for what each
 * does. Each is its part's own method, bound: a call costs what calling the part directly does. The
 * rest (kind, migrate, onDeliveriesQueued, ping, close) each database implements itself; `implements
 * Store` fails to compile when an operation has neither.
 */
export abstract class StoreOfParts implements Store {
  abstract readonly kind: Store['kind'];
  abstract migrate(): ReturnType<Store['migrate']>;
  abstract onDeliveriesQueued(listener: () => void): ReturnType<Store['onDeliveriesQueued']>;
  abstract ping(): ReturnType<Store['ping']>;
  abstract close(): ReturnType<Store['close']>;

  protected constructor(parts: StoreParts) {
    const self = this as unknown as Record<string, unknown>;
    for (const [subject, operations] of Object.entries(OPERATIONS) as [Subject, readonly SubjectOperation[]][]) {
      const part = parts[subject] as unknown as Record<string, (...args: unknown[]) => unknown>;
      for (const operation of operations) self[operation] = part[operation]!.bind(part);
    }
  }
}
