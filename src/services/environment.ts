// Svix's environment export and import: the configuration one server can hand to another. In
// Tapwire that is the event-type catalogue. Svix's other parts have no counterpart here: its
// organisation `settings` are Tapwire's environment variables (TAPWIRE_BRAND_* and the rest), and
// Tapwire has no connectors or transformation templates. An export carries them empty, and an import
// that brings some is refused with a 422 naming them, rather than dropping them unseen.
import type { EventType } from '../domain/types.js';
import { TapwireError, type ValidationIssue } from '../errors/tapwire-error.js';
import type { ServiceContext } from './context.js';
import { listAllEventTypes } from './event-type-import.js';
import { buildEventType, type EventTypeInput } from './event-types.js';

/** The version of the export's shape (Svix's EnvironmentOut.version). */
export const ENVIRONMENT_VERSION = 1;

export interface EnvironmentExport {
  version: number;
  createdAt: Date;
  /** Every event type, archived ones included, with its schemas. */
  eventTypes: EventType[];
}

/** An import: event types as EventTypeIn, and the parts Tapwire has no counterpart for. */
export interface EnvironmentImport {
  eventTypes?: (EventTypeInput & { name: string; description: string })[] | null;
  settings?: Record<string, unknown> | null;
  connectors?: unknown[] | null;
  transformationTemplates?: unknown[] | null;
}

export async function exportEnvironment(ctx: ServiceContext): Promise<EnvironmentExport> {
  return { version: ENVIRONMENT_VERSION, createdAt: ctx.clock.now(), eventTypes: await listAllEventTypes(ctx) };
}

/**
 * Create or replace each event type as given (as PUT /event-type/{name} does, archived flag
 * included; an existing type keeps its creation time), in one transaction. Nothing is deleted:
 * types the import does not name stay as they are.
 */
export async function importEnvironment(ctx: ServiceContext, input: EnvironmentImport): Promise<{ eventTypes: number }> {
  const problems: ValidationIssue[] = [];
  if (input.settings && Object.keys(input.settings).length > 0) {
    problems.push({
      loc: ['body', 'settings'],
      msg: `Tapwire has no environment settings to import (${Object.keys(input.settings).slice(0, 10).join(', ')}): its server settings are environment variables such as TAPWIRE_BRAND_NAME; send settings as null or {}`,
      type: 'value_error',
    });
  }
  for (const part of ['connectors', 'transformationTemplates'] as const) {
    const list = input[part];
    if (list && list.length > 0) problems.push({ loc: ['body', part], msg: `Tapwire has no ${part}; send an empty list or leave it out`, type: 'value_error' });
  }
  const types = input.eventTypes ?? [];
  const names = new Set<string>();
  types.forEach((type, index) => {
    if (names.has(type.name)) problems.push({ loc: ['body', 'eventTypes', String(index), 'name'], msg: `the event type '${type.name}' is listed twice`, type: 'value_error' });
    names.add(type.name);
  });
  if (problems.length > 0) throw new TapwireError('validation_error', { issues: problems });
  if (types.length === 0) return { eventTypes: 0 };

  const existing = new Map((await listAllEventTypes(ctx)).map((type) => [type.name, type]));
  const now = ctx.clock.now();
  const records: EventType[] = types.map((type) => buildEventType(type, existing.get(type.name) ?? null, now));
  await ctx.store.saveEventTypes(records);
  ctx.logger.info({ eventTypes: records.length }, 'environment imported');
  return { eventTypes: records.length };
}
