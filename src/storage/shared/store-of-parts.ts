// One Store made of subject parts, written once for both databases: each operation is the method of
// the subject that owns it (src/storage/<subject>/{sqlite,postgres}.ts). SqliteStore and PostgresStore
// add only what is really per database: opening, migrating, LISTEN/NOTIFY, health and closing.
import type { Store } from '../store.js';

/** The operations of each subject, as each database's part of that subject implements them. */
export interface StoreParts {
  applications: Pick<Store, 'createApplication' | 'getApplication' | 'updateApplication' | 'deleteApplication' | 'listApplications'>;
  endpoints: Pick<Store, 'createEndpoint' | 'getEndpoint' | 'updateEndpoint' | 'deleteEndpoint' | 'listEndpoints'>;
  eventTypes: Pick<Store, 'createEventType' | 'getEventType' | 'saveEventType' | 'deleteEventType' | 'listEventTypes'>;
  messages: Pick<
    Store,
    'createMessage' | 'getMessage' | 'listMessages' | 'expungeMessageContent' | 'listMessageDestinations' | 'listAttemptedMessages'
  >;
  deliveries: Pick<Store, 'createManualDelivery' | 'recoverFailedDeliveries' | 'nextDueAt' | 'queueSnapshot' | 'getDelivery'>;
  claims: Pick<Store, 'claimDueDeliveries'>;
  completion: Pick<Store, 'completeAttempt'>;
  attempts: Pick<Store, 'listAttempts' | 'getAttempt'>;
  auth: Pick<Store, 'createToken' | 'findToken' | 'hasAdminToken' | 'getIdempotentResponse' | 'saveIdempotentResponse'>;
  backgroundTasks: Pick<
    Store,
    'createBackgroundTask' | 'getBackgroundTask' | 'listBackgroundTasks' | 'claimBackgroundTasks' | 'runReplayMissingBatch' | 'releaseBackgroundTask'
  >;
  retention: Pick<Store, 'expireMessagePayloads' | 'pruneAttempts' | 'pruneIdempotency'>;
  stats: Pick<Store, 'getEndpointStats' | 'countAttemptsOverTime' | 'listUnhealthyEndpoints' | 'listSlowestEndpoints'>;
}

/** The Store operations every database implements through its subject parts; see Store for what each does. */
export abstract class StoreOfParts implements Store {
  abstract readonly kind: Store['kind'];
  abstract migrate(): ReturnType<Store['migrate']>;
  abstract onDeliveriesQueued(listener: () => void): ReturnType<Store['onDeliveriesQueued']>;
  abstract ping(): ReturnType<Store['ping']>;
  abstract close(): ReturnType<Store['close']>;

  protected constructor(private readonly parts: StoreParts) {}

  readonly createApplication: Store['createApplication'] = (app) => this.parts.applications.createApplication(app);
  readonly getApplication: Store['getApplication'] = (idOrUid) => this.parts.applications.getApplication(idOrUid);
  readonly updateApplication: Store['updateApplication'] = (app) => this.parts.applications.updateApplication(app);
  readonly deleteApplication: Store['deleteApplication'] = (id) => this.parts.applications.deleteApplication(id);
  readonly listApplications: Store['listApplications'] = (query) => this.parts.applications.listApplications(query);

  readonly createEndpoint: Store['createEndpoint'] = (endpoint, options) => this.parts.endpoints.createEndpoint(endpoint, options);
  readonly getEndpoint: Store['getEndpoint'] = (appId, idOrUid) => this.parts.endpoints.getEndpoint(appId, idOrUid);
  readonly updateEndpoint: Store['updateEndpoint'] = (endpoint, options) => this.parts.endpoints.updateEndpoint(endpoint, options);
  readonly deleteEndpoint: Store['deleteEndpoint'] = (appId, endpointId, now, options) => this.parts.endpoints.deleteEndpoint(appId, endpointId, now, options);
  readonly listEndpoints: Store['listEndpoints'] = (appId, query) => this.parts.endpoints.listEndpoints(appId, query);

  readonly createEventType: Store['createEventType'] = (eventType) => this.parts.eventTypes.createEventType(eventType);
  readonly getEventType: Store['getEventType'] = (name) => this.parts.eventTypes.getEventType(name);
  readonly saveEventType: Store['saveEventType'] = (eventType) => this.parts.eventTypes.saveEventType(eventType);
  readonly deleteEventType: Store['deleteEventType'] = (name) => this.parts.eventTypes.deleteEventType(name);
  readonly listEventTypes: Store['listEventTypes'] = (query) => this.parts.eventTypes.listEventTypes(query);

  readonly createMessage: Store['createMessage'] = (message, now, options) => this.parts.messages.createMessage(message, now, options);
  readonly getMessage: Store['getMessage'] = (appId, idOrEventId) => this.parts.messages.getMessage(appId, idOrEventId);
  readonly listMessages: Store['listMessages'] = (appId, query) => this.parts.messages.listMessages(appId, query);
  readonly expungeMessageContent: Store['expungeMessageContent'] = (appId, msgId) => this.parts.messages.expungeMessageContent(appId, msgId);
  readonly listMessageDestinations: Store['listMessageDestinations'] = (appId, msgId, query) =>
    this.parts.messages.listMessageDestinations(appId, msgId, query);
  readonly listAttemptedMessages: Store['listAttemptedMessages'] = (appId, endpointId, query) =>
    this.parts.messages.listAttemptedMessages(appId, endpointId, query);

  readonly createManualDelivery: Store['createManualDelivery'] = (input) => this.parts.deliveries.createManualDelivery(input);
  readonly recoverFailedDeliveries: Store['recoverFailedDeliveries'] = (input) => this.parts.deliveries.recoverFailedDeliveries(input);
  readonly claimDueDeliveries: Store['claimDueDeliveries'] = (input) => this.parts.claims.claimDueDeliveries(input);
  readonly completeAttempt: Store['completeAttempt'] = (input) => this.parts.completion.completeAttempt(input);
  readonly nextDueAt: Store['nextDueAt'] = (input) => this.parts.deliveries.nextDueAt(input);
  readonly queueSnapshot: Store['queueSnapshot'] = (now) => this.parts.deliveries.queueSnapshot(now);
  readonly getDelivery: Store['getDelivery'] = (id) => this.parts.deliveries.getDelivery(id);

  readonly listAttempts: Store['listAttempts'] = (appId, query) => this.parts.attempts.listAttempts(appId, query);
  readonly getAttempt: Store['getAttempt'] = (appId, msgId, attemptId) => this.parts.attempts.getAttempt(appId, msgId, attemptId);

  readonly createToken: Store['createToken'] = (input) => this.parts.auth.createToken(input);
  readonly findToken: Store['findToken'] = (tokenHash, now) => this.parts.auth.findToken(tokenHash, now);
  readonly hasAdminToken: Store['hasAdminToken'] = () => this.parts.auth.hasAdminToken();
  readonly getIdempotentResponse: Store['getIdempotentResponse'] = (keyHash, now) => this.parts.auth.getIdempotentResponse(keyHash, now);
  readonly saveIdempotentResponse: Store['saveIdempotentResponse'] = (keyHash, response, expiresAt) =>
    this.parts.auth.saveIdempotentResponse(keyHash, response, expiresAt);

  readonly createBackgroundTask: Store['createBackgroundTask'] = (task, lease) => this.parts.backgroundTasks.createBackgroundTask(task, lease);
  readonly getBackgroundTask: Store['getBackgroundTask'] = (id) => this.parts.backgroundTasks.getBackgroundTask(id);
  readonly listBackgroundTasks: Store['listBackgroundTasks'] = (query) => this.parts.backgroundTasks.listBackgroundTasks(query);
  readonly claimBackgroundTasks: Store['claimBackgroundTasks'] = (input) => this.parts.backgroundTasks.claimBackgroundTasks(input);
  readonly runReplayMissingBatch: Store['runReplayMissingBatch'] = (input) => this.parts.backgroundTasks.runReplayMissingBatch(input);
  readonly releaseBackgroundTask: Store['releaseBackgroundTask'] = (input) => this.parts.backgroundTasks.releaseBackgroundTask(input);

  readonly expireMessagePayloads: Store['expireMessagePayloads'] = (now, limit) => this.parts.retention.expireMessagePayloads(now, limit);
  readonly pruneAttempts: Store['pruneAttempts'] = (before, limit) => this.parts.retention.pruneAttempts(before, limit);
  readonly pruneIdempotency: Store['pruneIdempotency'] = (now, limit) => this.parts.retention.pruneIdempotency(now, limit);

  readonly getEndpointStats: Store['getEndpointStats'] = (appId, endpointId, since, until) => this.parts.stats.getEndpointStats(appId, endpointId, since, until);
  readonly countAttemptsOverTime: Store['countAttemptsOverTime'] = (input) => this.parts.stats.countAttemptsOverTime(input);
  readonly listUnhealthyEndpoints: Store['listUnhealthyEndpoints'] = (limit) => this.parts.stats.listUnhealthyEndpoints(limit);
  readonly listSlowestEndpoints: Store['listSlowestEndpoints'] = (input) => this.parts.stats.listSlowestEndpoints(input);
}
