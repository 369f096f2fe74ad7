// A short-lived, per-process memory of the two reads every API request makes before its real work:
// which principal a bearer token is (authenticate) and which application a path names. Under load
// the same few tokens and applications are asked for thousands of times a second; answering them
// from memory spares the database one or two statements per request.
//
// What it may cost: a change made by another process (an application deleted or renamed through a
// second server) is seen here up to `ttlMs` late. Changes made through this process are seen at
// once: the services call forgetApplication() after every write to an application. Only hits are
// kept (an unknown token or application is asked for again each time), token expiry and revocation
// are checked on every use against the injected clock (revocations made through this process forget
// the tokens at once), and a message accepted for an application deleted meanwhile
// still fails its foreign key (404), so staleness never stores anything for a deleted tenant.
import type { Application } from '../domain/types.js';
import type { Store, StoredToken } from '../storage/store.js';

/** The part of a ServiceContext the lookups read (spelt out here: context.ts imports this module). */
type Lookups = { store: Store; lookups?: LookupCache };

/** The application `idOrUid` names, through the context's lookup cache when it has one. */
export function lookUpApplication(ctx: Lookups, idOrUid: string): Promise<Application | null> {
  return ctx.lookups ? ctx.lookups.application(ctx.store, idOrUid) : ctx.store.getApplication(idOrUid);
}

/** The unexpired token with this hash, through the context's lookup cache when it has one. */
export function lookUpToken(ctx: Lookups, tokenHash: string, now: Date): Promise<StoredToken | null> {
  return ctx.lookups ? ctx.lookups.token(ctx.store, tokenHash, now) : ctx.store.findToken(tokenHash, now);
}

interface Entry<T> {
  value: T;
  /** performance.now() after which the entry is read again from the store. */
  until: number;
}

/** Entries kept per map before it is emptied (a bound on memory, reached only with many tenants). */
const MAX_ENTRIES = 10_000;

export class LookupCache {
  private readonly applications = new Map<string, Entry<Application>>();
  private readonly tokens = new Map<string, Entry<StoredToken>>();
  /** Bumped by every forget: a read that started before it must not store what it found. */
  private generation = 0;

  constructor(
    /** How long an entry is trusted, in ms; 0 turns the cache off. */
    readonly ttlMs: number,
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  /** `store.getApplication(idOrUid)`, answered from memory while an earlier answer is fresh. */
  async application(store: Store, idOrUid: string): Promise<Application | null> {
    if (this.ttlMs <= 0) return store.getApplication(idOrUid);
    const hit = this.fresh(this.applications, idOrUid);
    if (hit) return hit;
    const generation = this.generation;
    const app = await store.getApplication(idOrUid);
    if (app && generation === this.generation) this.put(this.applications, idOrUid, app);
    return app;
  }

  /** `store.findToken(hash, now)`, answered from memory while fresh and while the token has neither expired nor been revoked at `now`. */
  async token(store: Store, tokenHash: string, now: Date): Promise<StoredToken | null> {
    if (this.ttlMs <= 0) return store.findToken(tokenHash, now);
    const hit = this.fresh(this.tokens, tokenHash);
    if (hit && isLive(hit, now)) return hit;
    const generation = this.generation;
    const token = await store.findToken(tokenHash, now);
    if (token && generation === this.generation) this.put(this.tokens, tokenHash, token);
    return token;
  }

  /** Drop what is known of an application (under its id and its uid) and of its tokens. */
  forgetApplication(appId: string): void {
    this.generation++;
    for (const [key, entry] of this.applications) if (entry.value.id === appId) this.applications.delete(key);
    for (const [key, entry] of this.tokens) if (entry.value.appId === appId) this.tokens.delete(key);
  }

  /** Drop what is known of the tokens of an application (null: the admin tokens), after revoking some of them. */
  forgetTokens(appId: string | null): void {
    this.generation++;
    for (const [key, entry] of this.tokens) if (entry.value.appId === appId) this.tokens.delete(key);
  }

  /** Drop everything. */
  clear(): void {
    this.generation++;
    this.applications.clear();
    this.tokens.clear();
  }

  private fresh<T>(map: Map<string, Entry<T>>, key: string): T | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.until > this.monotonicNow()) return entry.value;
    map.delete(key);
    return undefined;
  }

  private put<T>(map: Map<string, Entry<T>>, key: string, value: T): void {
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, { value, until: this.monotonicNow() + this.ttlMs });
  }
}

function isLive(token: StoredToken, now: Date): boolean {
  const at = now.getTime();
  return (token.expiresAt === null || token.expiresAt.getTime() > at) && (token.revokedAt === null || token.revokedAt.getTime() > at);
}
