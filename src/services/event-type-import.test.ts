import { describe, expect, it } from 'vitest';

import { TapwireError } from '../errors/tapwire-error.js';
import { eventTypesFromOpenApi, readSpec } from './event-type-import.js';

/** The issues of the 422 `run` throws. */
function issuesOf(run: () => unknown): { loc: string[]; msg: string }[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TapwireError);
    expect((error as TapwireError).code).toBe('validation_error');
    return (error as TapwireError).issues as { loc: string[]; msg: string }[];
  }
  throw new Error('expected a 422');
}

const body = (schema: unknown, extra: object = {}) => ({ requestBody: { content: { 'application/json': { schema, ...extra } } } });

describe('eventTypesFromOpenApi', () => {
  it('reads webhooks and x-webhooks, the first operation when there is no post, and the summary when there is no description', () => {
    const types = eventTypesFromOpenApi(
      {
        webhooks: { 'a.b': { put: { summary: 'Put' } } },
        'x-webhooks': { 'c.d': { description: 'From the path item', post: {} } },
      },
      'spec',
    );
    expect(types).toEqual([
      { name: 'a.b', description: 'Put', schemas: null, deprecated: false, featureFlags: null, groupName: null },
      { name: 'c.d', description: 'From the path item', schemas: null, deprecated: false, featureFlags: null, groupName: null },
    ]);
  });

  it('resolves refs to request bodies, schemas and examples, with siblings of a $ref winning', () => {
    const [type] = eventTypesFromOpenApi(
      {
        webhooks: { 'a.b': { post: { requestBody: { $ref: '#/components/requestBodies/Body' } } } },
        components: {
          requestBodies: { Body: { content: { 'text/plain': {}, 'application/vnd.api+json': { schema: { $ref: '#/components/schemas/S', title: 'Mine' }, examples: { e: { $ref: '#/components/examples/E' } } } } } },
          schemas: { S: { title: 'Theirs', type: 'object', properties: { tag: { $ref: '#/components/schemas/Tag' } } }, Tag: { type: 'string', enum: ['x'] } },
          examples: { E: { summary: 'one', value: { tag: 'x' } } },
        },
      },
      'spec',
    );
    // The JSON media type is chosen over the first one.
    expect(type!.schemas).toEqual({ '1': { title: 'Mine', type: 'object', properties: { tag: { type: 'string', enum: ['x'] } }, examples: [{ tag: 'x' }] } });
  });

  it('keeps a property named __proto__ as a property', () => {
    const spec = JSON.parse('{"webhooks": {"a.b": {"post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"__proto__": {"type": "string"}}}}}}}}}}');
    const [type] = eventTypesFromOpenApi(spec, 'spec');
    const properties = (type!.schemas!['1'] as { properties: object }).properties;
    expect(Object.keys(properties)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
  });

  it('keeps mutually recursive schemas once each under definitions', () => {
    const [type] = eventTypesFromOpenApi(
      {
        webhooks: { 'a.b': { post: body({ $ref: '#/components/schemas/A' }) } },
        components: { schemas: { A: { properties: { b: { $ref: '#/components/schemas/B' } } }, B: { properties: { a: { $ref: '#/components/schemas/A' } } } } },
      },
      'spec',
    );
    expect(type!.schemas!['1']).toEqual({
      properties: { b: { properties: { a: { $ref: '#/definitions/A' } } } },
      definitions: { A: { properties: { b: { properties: { a: { $ref: '#/definitions/A' } } } } } },
    });
  });

  it('reads feature flags (list or single) and the group name, and refuses bad ones', () => {
    const [type] = eventTypesFromOpenApi({ webhooks: { 'a.b': { post: { 'x-svix-feature-flags': ['x', 'y'], 'x-svix-feature-flag': 'x', 'x-svix-group-name': 'g' } } } }, 'spec');
    expect(type).toMatchObject({ featureFlags: ['x', 'y'], groupName: 'g' });
    expect(issuesOf(() => eventTypesFromOpenApi({ webhooks: { 'a.b': { post: { 'x-svix-feature-flags': 'x', 'x-svix-group-name': 'no spaces' } } } }, 'spec')).map((i) => i.loc.at(-1))).toEqual([
      'x-svix-feature-flags',
      'x-svix-group-name',
    ]);
  });

  it('refuses a webhook in both sections, descriptions with control characters, and schemas nested too deeply once resolved', () => {
    let deep: object = { type: 'string' };
    for (let i = 0; i < 70; i++) deep = { properties: { x: deep } };
    const found = issuesOf(() =>
      eventTypesFromOpenApi(
        {
          webhooks: { 'a.b': { post: {} }, 'c.d': { post: { description: 'bell\u0007' } }, 'e.f': { post: body({ $ref: '#/components/schemas/Deep' }) } },
          'x-webhooks': { 'a.b': { post: {} } },
          components: { schemas: { Deep: deep } },
        },
        'specRaw',
      ),
    );
    expect(found.map((i) => i.loc.slice(1, 5))).toEqual([
      ['specRaw', 'webhooks', 'c.d', 'post'],
      ['specRaw', 'webhooks', 'e.f', 'post'],
      ['specRaw', 'x-webhooks', 'a.b'],
    ]);
    expect(found[1]!.msg).toMatch(/deeper than/);
  });
});

describe('readSpec', () => {
  it('takes exactly one of spec and specRaw (400 otherwise), and reads specRaw as JSON or YAML', () => {
    expect(readSpec({ specRaw: '{"webhooks": {}}' })).toEqual({ spec: { webhooks: {} }, field: 'specRaw' });
    expect(() => readSpec({})).toThrow(expect.objectContaining({ code: 'generic_error', status: 400 }));
    expect(() => readSpec({ spec: {}, specRaw: '{}' })).toThrow(expect.objectContaining({ code: 'generic_error' }));
    expect(readSpec({ specRaw: 'openapi: 3.1.0\nwebhooks: {}\n' })).toEqual({ spec: { openapi: '3.1.0', webhooks: {} }, field: 'specRaw' });
    expect(issuesOf(() => readSpec({ specRaw: 'a: 1\na: 2\n' }))[0]!.msg).toMatch(/YAML/);
    expect(issuesOf(() => readSpec({ specRaw: 'openapi' }))[0]!.msg).toMatch(/an object/);
    expect(issuesOf(() => readSpec({ specRaw: '[1]' }))[0]!.msg).toMatch(/an object/);
    expect(issuesOf(() => readSpec({ specRaw: '{"a":'.repeat(200) + '1' + '}'.repeat(200) }))[0]!.msg).toMatch(/nests deeper/);
  });
});
