// The HTTP operations the installed official svix clients call, read from their sources: 1.x from
// its compiled dist/api/*.js, 2.x from its src/api/*.ts (its dist is one bundle that spells the
// method as a string). Each request is `new SvixRequest(HttpMethod.X, "/path")` inside a method of
// the API class, so the operation and the client method that sends it are read together. Also the
// reader of docs/svix-compatibility.md, which lists those operations.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ClientOperation {
  /** `GET`, `POST`, … */
  method: string;
  /** The path as the client writes it, e.g. `/api/v1/app/{app_id}`. */
  path: string;
  /** `application.list`: where the method is on the client (see API_ACCESS), then its name. */
  clientMethod: string;
  major: 1 | 2;
}

/** Where a client API class sits on the client when that is not its file name. */
const API_ACCESS: Record<string, string> = {
  endpointTransformation: 'endpoint.transformation',
  destinationTransformation: 'destination.transformation',
  messagePoller: 'message.poller',
  operationalWebhookEndpoint: 'operationalWebhook.endpoint',
  ingestAuthentication: 'ingest.authentication',
  ingestEndpoint: 'ingest.endpoint',
  ingestEndpointTransformation: 'ingest.endpoint.transformation',
  ingestSource: 'ingest.source',
  streamingEventType: 'streaming.eventType',
  streamingEvents: 'streaming.events',
  streamingSink: 'streaming.sink',
  streamingSinkTransformation: 'streaming.sink.transformation',
  streamingStream: 'streaming.stream',
};

const require = createRequire(import.meta.url);
const packageDir = (pkg: string): string => dirname(require.resolve(`${pkg}/package.json`));

/** The operations one API source file sends, each with the method of the class it is in. */
function readApiFile(text: string, api: string, major: 1 | 2, methodDefinition: RegExp): ClientOperation[] {
  const definitions = [...text.matchAll(methodDefinition)].map((m) => ({ at: m.index!, name: m[1]! }));
  const operations: ClientOperation[] = [];
  for (const request of text.matchAll(/HttpMethod\.([A-Z]+),\s*"([^"]+)"/g)) {
    const owner = definitions.filter((d) => d.at < request.index!).pop();
    if (!owner) throw new Error(`no method around ${request[0]} in ${api}`);
    operations.push({ method: request[1]!, path: request[2]!, clientMethod: `${API_ACCESS[api] ?? api}.${owner.name}`, major });
  }
  return operations;
}

/** Every operation the two installed client majors send, one entry per (client method, operation). */
export function clientOperations(): ClientOperation[] {
  const operations: ClientOperation[] = [];
  const v1 = join(packageDir('svix'), 'dist', 'api');
  for (const file of readdirSync(v1).filter((f) => f.endsWith('.js'))) {
    // Compiled class methods: `    name(args) {` at the class body's indent.
    operations.push(...readApiFile(readFileSync(join(v1, file), 'utf8'), file.slice(0, -3), 1, /^ {4}(\w+)\(.*\) \{$/gm));
  }
  const v2 = join(packageDir('svix2'), 'src', 'api');
  for (const file of readdirSync(v2).filter((f) => f.endsWith('.ts'))) {
    operations.push(...readApiFile(readFileSync(join(v2, file), 'utf8'), file.slice(0, -3), 2, /^ {2}public (?:async )?(\w+)\(/gm));
  }
  return operations;
}

/** `GET /api/v1/app/{}`: an operation with its path parameters' names left out, to compare paths whatever they call them. */
export function operationKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`;
}

/** The compatibility page, relative to the repository root (where vitest runs). */
export const COMPATIBILITY_DOC = 'docs/svix-compatibility.md';
const DOC = COMPATIBILITY_DOC;
const STATUSES = ['supported', 'partial', 'not supported'] as const;

/** One row of the compatibility page. */
export interface DocRow {
  method: string;
  path: string;
  key: string;
  /** `application.update (1.x)`, `application.list`: the client methods as written. */
  clientMethods: string[];
  status: (typeof STATUSES)[number];
  line: number;
}

/** The page's operation rows; a table row that cannot be read throws, naming its line. */
export function readCompatibilityDoc(): DocRow[] {
  const rows: DocRow[] = [];
  const lines = readFileSync(DOC, 'utf8').split('\n');
  lines.forEach((text, index) => {
    if (!text.startsWith('| `')) return;
    const match = /^\| `([A-Z]+) (\/\S+)` \| (.+?) \| (supported|partial|not supported) \| (.*) \|$/.exec(text);
    if (!match) throw new Error(`${DOC}:${index + 1}: a table row that does not read "| \`METHOD /path\` | client methods | status | notes |": ${text}`);
    const [, method, path, methods, status] = match;
    const clientMethods = [...methods!.matchAll(/`([\w.]+)`(?: \(([12])\.x\))?/g)].map((m) => (m[2] ? `${m[1]} (${m[2]}.x)` : m[1]!));
    if (clientMethods.length === 0) throw new Error(`${DOC}:${index + 1}: no client method named`);
    rows.push({ method: method!, path: path!, key: operationKey(method!, path!), clientMethods, status: status as DocRow['status'], line: index + 1 });
  });
  return rows;
}
