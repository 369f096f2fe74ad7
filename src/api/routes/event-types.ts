// The event-type routes: the catalogue of event names (and their schemas) messages are sent under.
// Any token may read it (a portal token only the types behind none of the feature flags or behind
// one of its own); only the admin token changes it.
import type { Static } from '@sinclair/typebox';
import { validationError } from '../../errors/tapwire-error.js';
import { featureFlagsOf } from '../../services/auth.js';
import type { ServiceContext } from '../../services/context.js';
import { importOpenApi, type EventTypeFromOpenApi } from '../../services/event-type-import.js';
import * as eventTypes from '../../services/event-types.js';
import { ID_CURSOR, LIST_QUERY, NAME_PATTERN, readBoolean, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { eventTypeOut, pageOut } from '../serializers.js';

const et = '/api/v1/event-type';

/** The routes under /api/v1/event-type. */
export function eventTypeRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: et, operationId: 'event_type.list', summary: 'List event types by name', tag: 'Event Type', access: 'app', needs: ['ViewBase'],
      query: { ...LIST_QUERY, include_archived: 'Include archived types (default false)', with_content: 'Include schemas (default false)' },
      responses: { 200: S.ListResponse(S.EventTypeOut, 'EventTypeOut') },
      handler: async (req) => {
        const q = req.query;
        const withContent = readBoolean(q, 'with_content', false);
        const page = await eventTypes.listEventTypes(ctx, {
          ...readListQuery(q, ID_CURSOR.name, 'ascending'),
          includeArchived: readBoolean(q, 'include_archived', false),
          featureFlags: featureFlagsOf(req.principal),
        });
        return pageOut(page, (t) => eventTypeOut(t, withContent));
      },
    }),
    defineRoute({
      method: 'POST', url: et, operationId: 'event_type.create', summary: 'Create an event type', tag: 'Event Type', access: 'admin',
      body: S.EventTypeIn, responses: { 201: S.EventTypeOut },
      handler: async (req, reply) => reply.status(201).send(eventTypeOut(await eventTypes.createEventType(ctx, eventTypeInput(req.body) as Static<typeof S.EventTypeIn>))),
    }),
    defineRoute({
      method: 'POST', url: `${et}/import/openapi`, operationId: 'event_type.import_openapi', tag: 'Event Type', access: 'admin',
      summary: "Create or update event types from an OpenAPI document's webhooks",
      description:
        'Each entry of `webhooks` (or `x-webhooks`) becomes the event type of its name: the description, the JSON request body schema ($refs resolved) with its examples, ' +
        '`deprecated`, and the extensions x-svix-feature-flags / x-svix-group-name. Archived types in the document are un-archived; `replaceAll` archives the others. ' +
        'Send the document as `spec` (JSON object) or `specRaw` (JSON text; YAML is not read), not both (400). A document that cannot be imported is a 422 naming each problem.',
      body: S.EventTypeImportOpenApiIn, responses: { 200: S.EventTypeImportOpenApiOut },
      handler: async (req) => {
        const result = await importOpenApi(ctx, req.body as Static<typeof S.EventTypeImportOpenApiIn>);
        const fromOpenApi = (t: EventTypeFromOpenApi) => ({
          name: t.name,
          description: t.description,
          schemas: t.schemas,
          deprecated: t.deprecated,
          ...(t.featureFlags !== null ? { featureFlags: t.featureFlags } : {}),
          ...(t.groupName !== null ? { groupName: t.groupName } : {}),
        });
        return { data: { ...result, to_modify: result.to_modify?.map(fromOpenApi) ?? null } };
      },
    }),
    defineRoute({
      method: 'GET', url: `${et}/:event_type_name`, operationId: 'event_type.get', summary: 'Get an event type', tag: 'Event Type', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.EventTypeOut },
      handler: async (req) => eventTypeOut(await eventTypes.getEventType(ctx, req.params.event_type_name, featureFlagsOf(req.principal))),
    }),
    defineRoute({
      method: 'PUT', url: `${et}/:event_type_name`, operationId: 'event_type.update', summary: 'Replace (or create) an event type', tag: 'Event Type', access: 'admin',
      body: S.EventTypeUpdate, responses: { 200: S.EventTypeOut, 201: S.EventTypeOut },
      handler: async (req, reply) => {
        const name = checkEventTypeName(req.params.event_type_name);
        const { eventType, created } = await eventTypes.upsertEventType(ctx, name, eventTypeInput(req.body));
        return reply.status(created ? 201 : 200).send(eventTypeOut(eventType));
      },
    }),
    defineRoute({
      method: 'PATCH', url: `${et}/:event_type_name`, operationId: 'event_type.patch', summary: 'Change some fields of an event type', tag: 'Event Type', access: 'admin',
      body: S.EventTypePatch, responses: { 200: S.EventTypeOut },
      handler: async (req) => eventTypeOut(await eventTypes.patchEventType(ctx, req.params.event_type_name, eventTypeInput(req.body))),
    }),
    defineRoute({
      method: 'DELETE', url: `${et}/:event_type_name`, operationId: 'event_type.delete', summary: 'Archive (or with expunge=true delete) an event type', tag: 'Event Type', access: 'admin',
      query: { expunge: 'Delete for good instead of archiving' }, responses: { 204: null },
      handler: async (req, reply) => {
        await eventTypes.deleteEventType(ctx, req.params.event_type_name, readBoolean(req.query, 'expunge', false));
        return reply.status(204).send();
      },
    }),
  ];
}

/**
 * The fields of an event-type body that were given. `featureFlags` wins over the older singular
 * `featureFlag`, which is read as a one-element list (null: no flag). Environment import reads
 * event types through it too.
 */
export function eventTypeInput(body: Partial<Static<typeof S.EventTypeIn>>): eventTypes.EventTypeInput {
  const input: eventTypes.EventTypeInput = Object.fromEntries(
    Object.entries(body).filter(([key, v]) => v !== undefined && ['name', 'description', 'archived', 'deprecated', 'schemas', 'groupName'].includes(key)),
  );
  if (body.featureFlags !== undefined) input.featureFlags = body.featureFlags;
  else if (body.featureFlag !== undefined) input.featureFlags = body.featureFlag === null ? null : [body.featureFlag];
  return input;
}

function checkEventTypeName(name: string): string {
  if (name.length > 256 || !NAME_PATTERN.test(name)) {
    throw validationError(['path', 'event_type_name'], 'event type names may only contain letters, digits, "-", "_" and "."', 'value_error.str.regex');
  }
  return name;
}
