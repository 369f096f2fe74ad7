// Builds the OpenAPI 3.1 document from the same route specs and schemas the server enforces.
import type { TSchema } from '@sinclair/typebox';
import { HttpErrorOut, HttpValidationError } from './schemas.js';

export interface RouteDoc {
  method: string;
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  access: 'public' | 'admin' | 'app';
  body?: TSchema;
  query?: Record<string, string>;
  responses: Record<number, TSchema | null>;
  /** The media type of successful answers when it is not JSON. */
  textContentType?: string;
  /** Added to the operation's description. */
  description?: string;
  /** Public, but may require the bearer token depending on configuration: either security applies. */
  bearerOptional?: boolean;
}

/** The OpenAPI document of every route in `routes`. */
export function buildOpenApiDocument(routes: RouteDoc[], version: string): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const ref = (schema: TSchema): Record<string, unknown> => {
    const title = (schema as { title?: string }).title;
    if (!title) return strip(schema);
    components[title] = strip(schema);
    return { $ref: `#/components/schemas/${title}` };
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([a-z_]+)/g, '{$1}');
    const params = [...route.url.matchAll(/:([a-z_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
      description: m[1] === 'event_type_name' ? 'Event type name' : m[1] === 'task_id' ? 'The task id (qtask_…)' : m[1] === 'file' ? 'A file name' : 'The id or the uid',
    }));
    const query = Object.entries(route.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description }));
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      // null = no declared schema: a 204 has no body, any other status still answers JSON.
      responses[status] = schema
        ? { description: 'OK', content: { 'application/json': { schema: ref(schema) } } }
        : route.textContentType && status.startsWith('2')
          ? { description: 'OK', content: { [route.textContentType]: { schema: { type: 'string' } } } }
          : status === '204'
          ? { description: 'No content' }
          : { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } };
    }
    if (route.body) responses['422'] = { description: 'Validation error', content: { 'application/json': { schema: ref(HttpValidationError) } } };
    responses['4XX'] = { description: 'Error', content: { 'application/json': { schema: ref(HttpErrorOut) } } };
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.access === 'public' ? { security: route.bearerOptional ? [{}, { HTTPBearer: [] }] : [] } : {}),
      ...(route.access === 'admin' || route.description
        ? { description: [route.access === 'admin' ? 'Requires the admin token.' : '', route.description ?? ''].filter(Boolean).join(' ') }
        : {}),
      parameters: [...params, ...query],
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(route.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tapwire API',
      version,
      description: 'Self-hosted webhook sending, compatible with the Svix v1 API. Authenticate with `Authorization: Bearer <token>`.',
    },
    servers: [{ url: '/' }],
    components: { schemas: components, securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ HTTPBearer: [] }],
    paths,
  };
}

/** Drop TypeBox's symbol keys so the document is plain JSON. */
function strip(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
