// Use cases for applications (tenants): create (optionally get-if-exists), upsert, patch, delete, list.
import { newId } from '../domain/ids.js';
import type { Application } from '../domain/types.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import type { ListQuery, Page } from '../storage/store.js';
import type { ServiceContext } from './context.js';

/** Fields a client may set on an application; undefined = not given. */
export interface ApplicationInput {
  name?: string;
  uid?: string | null;
  throttleRate?: number | null;
  metadata?: Record<string, string>;
}

/**
 * A throttleRate as stored: 0 (which Svix's patch and output schemas allow) means no limit, the
 * same as null. Taken literally, 0 messages per second would never deliver, which is what
 * `disabled` is for; so it is stored as no limit and reads back as none (no throttleRate field).
 */
export function throttleRateOf(rate: number | null | undefined): number | null {
  return rate ? rate : null;
}

/** Create an application. With `getIfExists`, an existing uid returns that application instead of 409. */
export async function createApplication(
  ctx: ServiceContext,
  input: ApplicationInput,
  options: { getIfExists?: boolean } = {},
): Promise<{ app: Application; created: boolean }> {
  if (input.uid && options.getIfExists) {
    const existing = await ctx.store.getApplication(input.uid);
    if (existing) return { app: existing, created: false };
  }
  const now = ctx.clock.now();
  checkUid(input.uid, 'app');
  const app: Application = {
    id: newId('app', now.getTime()),
    uid: input.uid ?? null,
    name: requireName(input.name),
    throttleRate: throttleRateOf(input.throttleRate),
    metadata: input.metadata ?? {},
    createdAt: now,
    updatedAt: now,
  };
  try {
    return { app: await ctx.store.createApplication(app), created: true };
  } catch (error) {
    // A concurrent create of the same uid: with getIfExists the winner's row is the answer.
    if (options.getIfExists && input.uid && error instanceof TapwireError && error.code === 'conflict') {
      const existing = await ctx.store.getApplication(input.uid);
      if (existing) return { app: existing, created: false };
    }
    throw error;
  }
}

export async function getApplication(ctx: ServiceContext, idOrUid: string): Promise<Application> {
  const app = await ctx.store.getApplication(idOrUid);
  if (!app) throw notFound('Application');
  return app;
}

/** PUT: replace an application, or create it when the path names none (201). */
export async function upsertApplication(
  ctx: ServiceContext,
  idOrUid: string,
  input: ApplicationInput,
): Promise<{ app: Application; created: boolean }> {
  let existing = await ctx.store.getApplication(idOrUid);
  if (!existing) {
    // Ids are ours to assign: a PUT naming an unknown id cannot create it under that id.
    if (idOrUid.startsWith('app_')) throw notFound('Application');
    try {
      return await createApplication(ctx, { ...input, uid: input.uid ?? idOrUid });
    } catch (error) {
      // A concurrent PUT created it in the meantime: replace that one, as if we had come second.
      existing = isConflict(error) ? await ctx.store.getApplication(idOrUid) : null;
      if (!existing) throw error;
    }
  }
  checkUid(input.uid, 'app');
  const app: Application = {
    ...existing,
    name: requireName(input.name),
    uid: input.uid === undefined ? existing.uid : input.uid,
    throttleRate: throttleRateOf(input.throttleRate),
    metadata: input.metadata ?? {},
    updatedAt: ctx.clock.now(),
  };
  const updated = await ctx.store.updateApplication(app);
  ctx.lookups?.forgetApplication(app.id);
  return { app: updated, created: false };
}

/** PATCH: absent fields stay, null clears a nullable field. */
export async function patchApplication(ctx: ServiceContext, idOrUid: string, input: ApplicationInput): Promise<Application> {
  const existing = await getApplication(ctx, idOrUid);
  checkUid(input.uid, 'app');
  const app: Application = {
    ...existing,
    name: input.name === undefined ? existing.name : requireName(input.name),
    uid: input.uid === undefined ? existing.uid : input.uid,
    throttleRate: input.throttleRate === undefined ? existing.throttleRate : throttleRateOf(input.throttleRate),
    metadata: input.metadata === undefined ? existing.metadata : input.metadata,
    updatedAt: ctx.clock.now(),
  };
  const updated = await ctx.store.updateApplication(app);
  ctx.lookups?.forgetApplication(app.id);
  return updated;
}

export async function deleteApplication(ctx: ServiceContext, idOrUid: string): Promise<void> {
  const app = await getApplication(ctx, idOrUid);
  await ctx.store.deleteApplication(app.id);
  ctx.lookups?.forgetApplication(app.id);
}

export function listApplications(ctx: ServiceContext, query: ListQuery): Promise<Page<Application>> {
  return ctx.store.listApplications(query);
}

function requireName(name: string | undefined): string {
  if (name === undefined) throw validationError(['body', 'name'], 'field required', 'value_error.missing');
  if (name.trim() === '') throw validationError(['body', 'name'], 'name must not be empty');
  return name;
}

export function isConflict(error: unknown): boolean {
  return error instanceof TapwireError && error.code === 'conflict';
}

/** A uid may not look like one of our ids (Svix: `invalid_uid_prefix`). */
export function checkUid(uid: string | null | undefined, prefix: string): void {
  if (uid && uid.startsWith(`${prefix}_`)) {
    const field = prefix === 'msg' ? 'eventId' : 'uid';
    throw validationError(['body', field], `${field} may not start with '${prefix}_'`, 'value_error.invalid_uid_prefix');
  }
}
