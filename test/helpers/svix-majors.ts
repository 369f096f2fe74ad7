// The two majors of the official `svix` npm client installed for tests: `svix` (1.x, CommonJS) and
// `svix2` (an npm alias of 2.x, ESM only). Tests loop over both so every scenario runs with each;
// this file says, in one place, where the two differ in names and defaults.
import { createRequire } from 'node:module';
import * as svix1 from 'svix';
import * as svix2 from 'svix2';

/** What a test needs from one client package (the client itself is untyped: its two majors name methods differently). */
export interface SvixLib {
  Svix: new (token: string, options?: { serverUrl?: string; fetch?: typeof fetch; retryScheduleInMs?: number[]; requestTimeout?: number }) => any;
  Webhook: new (secret: string) => { verify(payload: string | Buffer, headers: Record<string, string>): unknown };
  ApiException: abstract new (...args: any[]) => Error & { code: number; body: any };
  MessageStatus: { Success: number; Pending: number; Fail: number; Sending: number };
  AppPortalCapability: { ViewBase: string; ViewEndpointSecret: string };
  /** Builds a MessageIn whose body is sent as given (`transformationsParams.rawPayload`) with this content type. */
  messageInRaw(eventType: string, payload: string, contentType?: string): Record<string, unknown>;
}

export interface SvixMajor {
  /** `svix 1.99.1` or `svix 2.5.0`: the installed version, read from the package. */
  label: string;
  major: 1 | 2;
  lib: SvixLib;
  /** The method that PUTs (replaces or creates) an application, endpoint, event type or operational-webhook endpoint: `update` in 1.x, `upsert` in 2.x. */
  put: 'update' | 'upsert';
  /** The method that PUTs an endpoint's headers: `updateHeaders` in 1.x, `setHeaders` in 2.x. */
  setHeaders: 'updateHeaders' | 'setHeaders';
  /** The endpoint filter field the client sends: 1.x only knows `filterTypes` on endpoints, 2.x only `eventTypes`. */
  filterField: 'filterTypes' | 'eventTypes';
  /** The rate field on applications: 1.x sends `rateLimit`, 2.x only `throttleRate`. */
  rateField: 'rateLimit' | 'throttleRate';
  /**
   * Whether `message.get`, `message.list` and the attempt lists ask for the payload by default.
   * 1.x leaves `with_content` out (the server's default, true); 2.x sends `with_content=false`.
   */
  contentByDefault: boolean;
  /** 1.x `Webhook.verify` returns the parsed payload; 2.x returns undefined (and still throws on a bad signature). */
  verifyReturnsPayload: boolean;
}

const require = createRequire(import.meta.url);
const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;

/** Both majors, 1.x first. */
export const SVIX_MAJORS: SvixMajor[] = [
  {
    label: `svix ${version('svix')}`,
    major: 1,
    lib: svix1 as unknown as SvixLib,
    put: 'update',
    setHeaders: 'updateHeaders',
    filterField: 'filterTypes',
    rateField: 'rateLimit',
    contentByDefault: true,
    verifyReturnsPayload: true,
  },
  {
    label: `svix ${version('svix2')}`,
    major: 2,
    lib: svix2 as unknown as SvixLib,
    put: 'upsert',
    setHeaders: 'setHeaders',
    filterField: 'eventTypes',
    rateField: 'throttleRate',
    contentByDefault: false,
    verifyReturnsPayload: false,
  },
];
