// Use cases for the event-type catalogue (global to the server).
import type { EventType } from '../domain/types.js';
import { TapwireError, notFound } from '../errors/tapwire-error.js';
import { seesFeatures } from '../domain/token-scopes.js';
import type { EventTypeListQuery, Page } from '../storage/store.js';
import type { ServiceContext } from './context.js';

export interface EventTypeInput {
  name?: string;
  description?: string;
  archived?: boolean;
  deprecated?: boolean;
  schemas?: Record<string, unknown> | null;
  /** null or [] = behind no flag. */
  featureFlags?: string[] | null;
  groupName?: string | null;
}

/** Create; re-creating an archived name un-archives and replaces it; a live name is a 409. */
export async function createEventType(ctx: ServiceContext, input: EventTypeInput & { name: string; description: string }): Promise<EventType> {
  const now = ctx.clock.now();
  const existing = await ctx.store.getEventType(input.name);
  const record = build(input, existing, now);
  if (existing) {
    if (!existing.archived) throw new TapwireError('conflict', { detail: `An event type named '${input.name}' already exists` });
    return ctx.store.saveEventType({ ...record, archived: input.archived ?? false, createdAt: existing.createdAt });
  }
  return ctx.store.createEventType(record);
}

/** By name; with `featureFlags` (a portal token's), a type behind another flag is not found. */
export async function getEventType(ctx: ServiceContext, name: string, featureFlags: readonly string[] | null = null): Promise<EventType> {
  const type = await ctx.store.getEventType(name);
  if (!type || !seesFeatures(type.featureFlags, featureFlags)) throw notFound('Event type');
  return type;
}

/** PUT: replace, or create when missing (201). */
export async function upsertEventType(ctx: ServiceContext, name: string, input: EventTypeInput): Promise<{ eventType: EventType; created: boolean }> {
  let existing = await ctx.store.getEventType(name);
  const record = build({ ...input, name, description: input.description ?? '' }, existing, ctx.clock.now());
  if (!existing) {
    try {
      return { eventType: await ctx.store.createEventType(record), created: true };
    } catch (error) {
      // A concurrent PUT created it in the meantime: replace that one, as if we had come second.
      existing = error instanceof TapwireError && error.code === 'conflict' ? await ctx.store.getEventType(name) : null;
      if (!existing) throw error;
      record.createdAt = existing.createdAt;
    }
  }
  return { eventType: await ctx.store.saveEventType(record), created: false };
}

/** PATCH: absent fields stay, null clears. */
export async function patchEventType(ctx: ServiceContext, name: string, input: EventTypeInput): Promise<EventType> {
  const existing = await getEventType(ctx, name);
  return ctx.store.saveEventType({
    ...existing,
    description: input.description ?? existing.description,
    archived: input.archived ?? existing.archived,
    deprecated: input.deprecated ?? existing.deprecated,
    schemas: input.schemas === undefined ? existing.schemas : input.schemas,
    featureFlags: input.featureFlags === undefined ? existing.featureFlags : flagsOf(input.featureFlags),
    groupName: input.groupName === undefined ? existing.groupName : input.groupName,
    updatedAt: ctx.clock.now(),
  });
}

/** Archive by default (endpoints keep working); `expunge` deletes it for good. */
export async function deleteEventType(ctx: ServiceContext, name: string, expunge: boolean): Promise<void> {
  const existing = await getEventType(ctx, name);
  if (expunge) await ctx.store.deleteEventType(name);
  else await ctx.store.saveEventType({ ...existing, archived: true, updatedAt: ctx.clock.now() });
}

/** With `query.featureFlags` (a portal token's), only the types that token may see. */
export function listEventTypes(ctx: ServiceContext, query: EventTypeListQuery): Promise<Page<EventType>> {
  return ctx.store.listEventTypes(query);
}

function build(input: EventTypeInput & { name: string; description: string }, existing: EventType | null, now: Date): EventType {
  return {
    name: input.name,
    description: input.description,
    archived: input.archived ?? false,
    deprecated: input.deprecated ?? false,
    schemas: input.schemas ?? null,
    featureFlags: flagsOf(input.featureFlags),
    groupName: input.groupName ?? null,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
}

/** Flags as stored: each once, in the order given; none is null. */
function flagsOf(flags: string[] | null | undefined): string[] | null {
  return flags && flags.length > 0 ? [...new Set(flags)] : null;
}

/** The record a create or replace of `input` makes (an existing type's creation time kept); environment import uses it too. */
export { build as buildEventType };
