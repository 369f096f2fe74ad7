// The Store contract: one suite every backend runs unchanged (test/store.<backend>.test.ts), so
// SQLite and PostgreSQL cannot drift apart. It speaks only the Store interface and uses fixed times;
// its cases live in one file per section of src/storage/store.ts.
import { afterEach, beforeEach, describe } from 'vitest';

import { describeApplications } from './applications.js';
import { describeAttempts } from './attempts.js';
import { describeAuth } from './auth.js';
import { describeBackgroundTasks } from './background-tasks.js';
import { describeBulkOperations } from './bulk-operations.js';
import { describeClaims } from './claims.js';
import { describeCompletion } from './completion.js';
import { describeEndpointLimits } from './endpoint-limits.js';
import { describeEndpoints } from './endpoints.js';
import { describeEventTypes } from './event-types.js';
import { describeFifo } from './fifo.js';
import { describeHandoff } from './handoff.js';
import { describeIngestSources } from './ingest-sources.js';
import { describeIntegrations } from './integrations.js';
import { useStore, type StoreFixture } from './fixtures.js';
import { describeLifecycle } from './lifecycle.js';
import { describeListenSessions } from './listen-sessions.js';
import { describeManualDeliveries } from './manual-deliveries.js';
import { describeMessageFields } from './message-fields.js';
import { describeMessages } from './messages.js';
import { describeRetention } from './retention.js';
import { describeStatistics } from './statistics.js';
import { describeStats } from './stats.js';

export type { StoreFixture } from './fixtures.js';

/**
 * Register the contract suite for one backend. `makeStore` is called before every test and must
 * return a migrated, empty store; `cleanup` runs after the test (close it, drop its files or schema).
 */
export function runStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const fixture = await makeStore();
      useStore(fixture.store);
      cleanup = fixture.cleanup;
    });

    afterEach(async () => {
      await cleanup();
    });

    describeLifecycle();
    describeApplications();
    describeEndpoints();
    describeEventTypes();
    describeMessages();
    describeMessageFields();
    describeClaims();
    describeCompletion();
    describeManualDeliveries();
    describeEndpointLimits();
    describeHandoff();
    describeFifo();
    describeAttempts();
    describeAuth();
    describeIntegrations();
    describeIngestSources();
    describeListenSessions();
    describeBackgroundTasks();
    describeBulkOperations();
    describeRetention();
    describeStats();
    describeStatistics();
  });
}
