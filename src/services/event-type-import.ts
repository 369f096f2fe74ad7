// Event types from an OpenAPI document (POST /api/v1/event-type/import/openapi, Svix's
// import-openapi): every entry of its `webhooks` section (OpenAPI 3.1; `x-webhooks` for 3.0) becomes
// an event type named by its key, with the operation's description, its JSON request body schema
// (every `$ref` into the document resolved, so the stored schema stands alone) and its examples.
// Svix's extensions `x-svix-feature-flags` (and the older `x-svix-feature-flag`) and
// `x-svix-group-name` are read. Everything is checked before anything is written, and the changes
// are saved in one transaction; `dryRun` saves nothing and reports what would change.
import { isDeepStrictEqual } from 'node:util';

import { parse as parseYaml } from 'yaml';

import type { EventType } from '../domain/types.js';
import { TapwireError, type ValidationIssue } from '../errors/tapwire-error.js';
import type { ServiceContext } from './context.js';

/** One event type as read from the document (Svix's EventTypeFromOpenApi). */
export interface EventTypeFromOpenApi {
  name: string;
  description: string;
  /** `{"1": <JSON schema with its examples>}`, or null when the webhook has no body schema nor examples. */
  schemas: Record<string, unknown> | null;
  deprecated: boolean;
  featureFlags: string[] | null;
  groupName: string | null;
}

export interface OpenApiImportInput {
  spec?: Record<string, unknown> | null;
  specRaw?: string | null;
  replaceAll?: boolean;
  dryRun?: boolean;
}

/** What an import changed (or, with dryRun, would change). `archived`/`to_archive` are Tapwire additions. */
export interface OpenApiImportResult {
  /** Names created or updated (always empty on a dry run). */
  modified: string[];
  /** Dry run only: the event types that would be created or updated, as read from the document. */
  to_modify: EventTypeFromOpenApi[] | null;
  /** With replaceAll: the names archived because the document does not have them (empty on a dry run). */
  archived: string[];
  /** Dry run with replaceAll: the names that would be archived. */
  to_archive: string[] | null;
}

const NAME_PATTERN = /^[a-zA-Z0-9\-_.]+$/;
/** Free text without NUL and the control characters below TAB (as EventTypeIn's description). */
const CONTROL_CHARS = /[\u0000-\u0008]/;
const MAX_DESCRIPTION = 8192;
/** The operations of a path item, the webhook's request first. */
const OPERATIONS = ['post', 'put', 'patch', 'get', 'delete', 'options', 'head', 'trace'] as const;
/**
 * Schema nodes one import may produce once `$ref`s are resolved. Resolving copies a referenced
 * schema at every use, and a document can reference a component many times over (each level
 * doubling the copies); past this the document is refused rather than expanded.
 */
const MAX_RESOLVED_NODES = 200_000;
/** Nesting of a stored schema (the API refuses JSON nested deeper than 128 levels). */
const MAX_SCHEMA_DEPTH = 120;
/** Issues reported at most per request. */
const MAX_ISSUES = 50;

/**
 * The document of `spec` or `specRaw` (JSON or YAML text, as Svix reads it). YAML is read with the
 * core schema (no language-specific tags), unique keys, and at most 100 aliases, so a document of
 * nested aliases cannot expand without bound.
 */
export function readSpec(input: OpenApiImportInput): { spec: Record<string, unknown>; field: 'spec' | 'specRaw' } {
  const hasSpec = input.spec !== undefined && input.spec !== null;
  const hasRaw = input.specRaw !== undefined && input.specRaw !== null;
  if (hasSpec === hasRaw) {
    throw new TapwireError('generic_error', { detail: 'Send the OpenAPI document in exactly one of spec (a JSON object) and specRaw (a string)' });
  }
  if (hasSpec) return { spec: input.spec!, field: 'spec' };
  const raw = input.specRaw!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (jsonError) {
    if (/^\s*[{[]/.test(raw)) {
      throw issues([{ loc: ['body', 'specRaw'], msg: `specRaw is not valid JSON: ${(jsonError as Error).message}`, type: 'value_error.jsondecode' }]);
    }
    try {
      parsed = parseYaml(raw, { schema: 'core', uniqueKeys: true, maxAliasCount: 100, prettyErrors: false });
    } catch (yamlError) {
      throw issues([{ loc: ['body', 'specRaw'], msg: `specRaw is neither JSON nor valid YAML: ${(yamlError as Error).message}`, type: 'value_error.yamldecode' }]);
    }
  }
  if (!isObject(parsed)) throw issues([{ loc: ['body', 'specRaw'], msg: 'specRaw must hold an object (an OpenAPI document)', type: 'type_error' }]);
  if (depthOf(parsed, MAX_SCHEMA_DEPTH + 8) > MAX_SCHEMA_DEPTH + 8) {
    throw issues([{ loc: ['body', 'specRaw'], msg: `specRaw nests deeper than ${MAX_SCHEMA_DEPTH + 8} levels`, type: 'value_error' }]);
  }
  return { spec: parsed, field: 'specRaw' };
}

/** Every webhook of the document as an event type; a 422 listing every problem found otherwise. */
export function eventTypesFromOpenApi(spec: Record<string, unknown>, field: 'spec' | 'specRaw'): EventTypeFromOpenApi[] {
  const found: ValidationIssue[] = [];
  const report = (loc: string[], msg: string): void => {
    if (found.length < MAX_ISSUES) found.push({ loc: ['body', field, ...loc], msg, type: 'value_error' });
  };
  const sections = (['webhooks', 'x-webhooks'] as const).filter((key) => spec[key] !== undefined);
  for (const key of sections) if (!isObject(spec[key])) report([key], `${key} must be an object of webhooks by name`);
  const entries = sections.flatMap((key) => (isObject(spec[key]) ? Object.entries(spec[key]).map(([name, item]) => ({ section: key, name, item })) : []));
  if (entries.length === 0 && found.length === 0) {
    report([], 'the document has no webhooks: Tapwire reads event types from its `webhooks` section (or `x-webhooks` for OpenAPI 3.0)');
  }
  const budget = { nodes: MAX_RESOLVED_NODES };
  const seen = new Set<string>();
  const types: EventTypeFromOpenApi[] = [];
  for (const { section, name, item } of entries) {
    const at = [section, name];
    if (seen.has(name)) {
      report(at, `the webhook '${name}' is in both webhooks and x-webhooks`);
      continue;
    }
    seen.add(name);
    if (name.length < 1 || name.length > 256 || !NAME_PATTERN.test(name)) {
      report(at, 'a webhook name is the event type name: 1 to 256 letters, digits, "-", "_" and "."');
      continue;
    }
    try {
      types.push(readWebhook(spec, name, deref(spec, item), at, budget, report));
    } catch (error) {
      if (!(error instanceof SpecProblem)) throw error;
      report(error.loc, error.message);
    }
  }
  if (found.length > 0) throw issues(found);
  return types;
}

/**
 * Import the document's webhooks: create or update each event type that differs from what is
 * stored (an archived one is un-archived), and with `replaceAll` archive the live ones the
 * document does not have. With `dryRun` nothing is saved.
 */
export async function importOpenApi(ctx: ServiceContext, input: OpenApiImportInput): Promise<OpenApiImportResult> {
  const { spec, field } = readSpec(input);
  const imported = eventTypesFromOpenApi(spec, field);
  const records = imported.map((type) => ({ type, fields: storedFields(type) }));
  const existing = new Map((await listAllEventTypes(ctx)).map((type) => [type.name, type]));
  const now = ctx.clock.now();
  const changed = records.filter(({ type, fields }) => differs(existing.get(type.name), fields));
  const names = new Set(imported.map((type) => type.name));
  const toArchive = input.replaceAll ? [...existing.values()].filter((type) => !type.archived && !names.has(type.name)) : [];
  if (input.dryRun) {
    return { modified: [], to_modify: changed.map(({ type }) => type), archived: [], to_archive: input.replaceAll ? toArchive.map((t) => t.name) : null };
  }
  const writes: EventType[] = [
    ...changed.map(({ type, fields }) => ({ name: type.name, ...fields, archived: false, createdAt: existing.get(type.name)?.createdAt ?? now, updatedAt: now })),
    ...toArchive.map((type) => ({ ...type, archived: true, updatedAt: now })),
  ];
  if (writes.length > 0) await ctx.store.saveEventTypes(writes);
  ctx.logger.info({ modified: changed.length, archived: toArchive.length }, 'event types imported from OpenAPI');
  return { modified: changed.map(({ type }) => type.name), to_modify: null, archived: toArchive.map((t) => t.name), to_archive: null };
}

/** The whole catalogue, archived types included, by name. */
export async function listAllEventTypes(ctx: ServiceContext): Promise<EventType[]> {
  const all: EventType[] = [];
  let iterator: string | null = null;
  for (;;) {
    const page = await ctx.store.listEventTypes({ limit: 250, iterator, order: 'ascending', includeArchived: true, featureFlags: null });
    all.push(...page.data);
    if (page.done || page.iterator === null) return all;
    iterator = page.iterator;
  }
}

/** The fields an imported type sets on the stored one. */
type StoredFields = Pick<EventType, 'description' | 'schemas' | 'deprecated' | 'featureFlags' | 'groupName'>;

/** What of an imported type the event-type store keeps: everything the import reads. */
function storedFields(type: EventTypeFromOpenApi): StoredFields {
  const flags = type.featureFlags && type.featureFlags.length > 0 ? [...new Set(type.featureFlags)] : null;
  return { description: type.description, schemas: type.schemas, deprecated: type.deprecated, featureFlags: flags, groupName: type.groupName };
}

function differs(stored: EventType | undefined, fields: StoredFields): boolean {
  if (!stored || stored.archived) return true;
  return (
    stored.description !== fields.description ||
    stored.deprecated !== fields.deprecated ||
    stored.groupName !== fields.groupName ||
    !isDeepStrictEqual(stored.featureFlags, fields.featureFlags) ||
    !isDeepStrictEqual(stored.schemas, fields.schemas)
  );
}

// Reading one webhook -----------------------------------------------------------------------

/** A problem at a place in the document; collected into the 422's issues. */
class SpecProblem extends Error {
  constructor(
    readonly loc: string[],
    message: string,
  ) {
    super(message);
  }
}

type Report = (loc: string[], msg: string) => void;

function readWebhook(doc: Record<string, unknown>, name: string, item: unknown, at: string[], budget: { nodes: number }, report: Report): EventTypeFromOpenApi {
  if (!isObject(item)) throw new SpecProblem(at, 'a webhook must be a Path Item object');
  const method = OPERATIONS.find((m) => item[m] !== undefined);
  if (!method) throw new SpecProblem(at, 'the webhook has no operation (post, put, …)');
  const opAt = [...at, method];
  const op = deref(doc, item[method]);
  if (!isObject(op)) throw new SpecProblem(opAt, 'an operation must be an object');

  const description = firstString(op.description, op.summary, item.description, item.summary) ?? '';
  if (description.length > MAX_DESCRIPTION) report([...opAt, 'description'], `the description is longer than ${MAX_DESCRIPTION} characters`);
  if (CONTROL_CHARS.test(description)) report([...opAt, 'description'], 'the description holds control characters');
  if (op.deprecated !== undefined && typeof op.deprecated !== 'boolean') report([...opAt, 'deprecated'], 'deprecated must be true or false');

  return {
    name,
    description,
    schemas: readSchemas(doc, op, opAt, budget),
    deprecated: op.deprecated === true,
    featureFlags: readFeatureFlags(op, opAt, report),
    groupName: readGroupName(op, opAt, report),
  };
}

function readFeatureFlags(op: Record<string, unknown>, at: string[], report: Report): string[] | null {
  const many = op['x-svix-feature-flags'];
  const one = op['x-svix-feature-flag'];
  const flags: string[] = [];
  if (many !== undefined && many !== null) {
    if (!Array.isArray(many)) report([...at, 'x-svix-feature-flags'], 'x-svix-feature-flags must be a list of flag names');
    else flags.push(...many);
  }
  if (one !== undefined && one !== null) flags.push(one as string);
  for (const flag of flags) {
    if (typeof flag !== 'string' || flag.length < 1 || flag.length > 256 || !NAME_PATTERN.test(flag)) {
      report([...at, 'x-svix-feature-flags'], 'a feature flag is 1 to 256 letters, digits, "-", "_" and "."');
      return null;
    }
  }
  const unique = [...new Set(flags)];
  return unique.length > 0 ? unique : null;
}

function readGroupName(op: Record<string, unknown>, at: string[], report: Report): string | null {
  const group = op['x-svix-group-name'];
  if (group === undefined || group === null) return null;
  if (typeof group !== 'string' || group.length < 1 || group.length > 256 || !NAME_PATTERN.test(group)) {
    report([...at, 'x-svix-group-name'], 'a group name is 1 to 256 letters, digits, "-", "_" and "."');
    return null;
  }
  return group;
}

/**
 * `{"1": schema}` from the operation's request body: the JSON media type's schema (refs resolved)
 * with the media type's `example` and `examples` put first in the schema's `examples` (what
 * send-example sends). Null when there is neither a schema nor an example.
 */
function readSchemas(doc: Record<string, unknown>, op: Record<string, unknown>, at: string[], budget: { nodes: number }): Record<string, unknown> | null {
  if (op.requestBody === undefined) return null;
  const bodyAt = [...at, 'requestBody'];
  const body = deref(doc, op.requestBody, bodyAt);
  if (!isObject(body)) throw new SpecProblem(bodyAt, 'requestBody must be an object');
  if (body.content === undefined) return null;
  if (!isObject(body.content)) throw new SpecProblem([...bodyAt, 'content'], 'content must be an object of media types');
  const types = Object.keys(body.content);
  const mediaType = types.find((t) => t.toLowerCase().split(';')[0]!.trim() === 'application/json') ?? types.find((t) => /json/i.test(t)) ?? types[0];
  if (mediaType === undefined) return null;
  const mediaAt = [...bodyAt, 'content', mediaType];
  const media = body.content[mediaType];
  if (!isObject(media)) throw new SpecProblem(mediaAt, 'a media type must be an object');

  const examples: unknown[] = [];
  if (media.example !== undefined) examples.push(media.example);
  if (media.examples !== undefined) {
    if (!isObject(media.examples)) throw new SpecProblem([...mediaAt, 'examples'], 'examples must be an object of Example objects');
    for (const [key, entry] of Object.entries(media.examples)) {
      const example = deref(doc, entry, [...mediaAt, 'examples', key]);
      if (isObject(example) && example.value !== undefined) examples.push(example.value);
    }
  }
  let schema: Record<string, unknown> = {};
  if (media.schema !== undefined) {
    const resolved = new SchemaResolver(doc, [...mediaAt, 'schema'], budget).resolveRoot(media.schema);
    if (!isObject(resolved)) throw new SpecProblem([...mediaAt, 'schema'], 'the body schema must be a JSON Schema object');
    schema = resolved;
  } else if (examples.length === 0) {
    return null;
  }
  if (examples.length > 0) {
    const own = Array.isArray(schema.examples) ? schema.examples : [];
    schema = { ...schema, examples: [...examples, ...own] };
  }
  if (depthOf(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH) {
    throw new SpecProblem([...mediaAt, 'schema'], `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels once its $refs are resolved`);
  }
  return { '1': schema };
}

/**
 * Resolves `$ref`s into the document by copying what they point at, so the stored schema needs no
 * document around it. A reference back into a schema being resolved (a recursive type) cannot be
 * copied: it points into `definitions` of the result, which holds that schema once (JSON Schema
 * draft 7, the version event type schemas use).
 */
class SchemaResolver {
  /** ref → its key under `definitions`, for the recursive ones. */
  private readonly recursive = new Map<string, string>();

  constructor(
    private readonly doc: Record<string, unknown>,
    private readonly at: string[],
    private readonly budget: { nodes: number },
  ) {}

  resolveRoot(schema: unknown): unknown {
    const root = this.resolve(schema, []);
    if (this.recursive.size === 0 || !isObject(root)) return root;
    const definitions: Record<string, unknown> = isObject(root.definitions) ? { ...root.definitions } : {};
    // Resolving a definition can find further recursive refs: go on until every one has its entry.
    for (let done = 0; done < this.recursive.size; done++) {
      const [ref, key] = [...this.recursive.entries()][done]!;
      definitions[key] = this.resolve(this.target(ref), [ref]);
    }
    return { ...root, definitions };
  }

  private resolve(node: unknown, stack: string[]): unknown {
    if (--this.budget.nodes < 0) {
      throw new SpecProblem(this.at, `the document's schemas expand to more than ${MAX_RESOLVED_NODES} nodes once their $refs are resolved`);
    }
    if (Array.isArray(node)) return node.map((item) => this.resolve(item, stack));
    if (!isObject(node)) return node;
    const ref = node.$ref;
    if (typeof ref === 'string') {
      const { $ref: _ref, ...siblings } = node;
      const resolved = stack.includes(ref) ? { $ref: `#/definitions/${this.keyOf(ref)}` } : this.resolve(this.target(ref), [...stack, ref]);
      if (Object.keys(siblings).length === 0 || !isObject(resolved)) return resolved;
      // OpenAPI 3.1 lets a $ref carry a description and the like beside it: they win.
      return { ...resolved, ...(this.resolve(siblings, stack) as Record<string, unknown>) };
    }
    const out: Record<string, unknown> = {};
    // Defined, not assigned: a property named __proto__ (JSON may have one) stays a property.
    for (const [key, value] of Object.entries(node)) Object.defineProperty(out, key, { value: this.resolve(value, stack), enumerable: true, writable: true, configurable: true });
    return out;
  }

  private target(ref: string): unknown {
    const found = pointerTarget(this.doc, ref);
    if (found === undefined) {
      throw new SpecProblem(this.at, ref.startsWith('#') ? `$ref '${ref}' points at nothing in the document` : `$ref '${ref}' is outside the document; only references within it (#/…) are resolved`);
    }
    return found;
  }

  private keyOf(ref: string): string {
    const known = this.recursive.get(ref);
    if (known) return known;
    const base = (ref.split('/').at(-1) || 'schema').replace(/[^A-Za-z0-9_.-]/g, '_');
    const taken = new Set(this.recursive.values());
    let key = base;
    for (let n = 2; taken.has(key); n++) key = `${base}_${n}`;
    this.recursive.set(ref, key);
    return key;
  }
}

/** `value`, or what it points at when it is a `{"$ref": "#/…"}` object (one level, as OpenAPI objects use refs). */
function deref(doc: Record<string, unknown>, value: unknown, at: string[] = []): unknown {
  for (let hops = 0; isObject(value) && typeof value.$ref === 'string'; hops++) {
    if (hops > 32) throw new SpecProblem(at, `$ref '${value.$ref}' loops`);
    const target = pointerTarget(doc, value.$ref);
    if (target === undefined) throw new SpecProblem(at, `$ref '${value.$ref}' points at nothing in the document (only references within it, #/…, are resolved)`);
    value = target;
  }
  return value;
}

/** The value a JSON pointer fragment (`#/components/schemas/Pet`) names in `doc`; undefined when none. */
function pointerTarget(doc: Record<string, unknown>, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (fragment === '') return doc;
  if (!fragment.startsWith('/')) return undefined;
  let node: unknown = doc;
  for (const raw of fragment.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(segment)) node = node[Number(segment)];
    else if (isObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string');
}

/** How deeply `value` nests arrays and objects, counting no further than `limit + 1`. */
function depthOf(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, limit - 1));
  return deepest + 1;
}

function issues(list: ValidationIssue[]): TapwireError {
  return new TapwireError('validation_error', { issues: list });
}
