import { describe, expect, it } from 'vitest';

import * as applications from '../applications/sql.js';
import * as attempts from '../attempts/sql.js';
import * as auth from '../auth/sql.js';
import * as backgroundTasks from '../background-tasks/sql.js';
import * as claims from '../deliveries/claims/sql.js';
import * as completion from '../deliveries/completion/sql.js';
import * as deliveries from '../deliveries/sql.js';
import * as endpoints from '../endpoints/sql.js';
import * as eventTypes from '../event-types/sql.js';
import * as integrations from '../integrations/sql.js';
import * as listenSessions from '../listen-sessions/sql.js';
import * as messages from '../messages/sql.js';
import * as retention from '../retention/sql.js';
import * as stats from '../stats/sql.js';
import { OPERATIONS } from './store-of-parts.js';

type Statements = { postgres: Record<string, unknown>; sqlite: Record<string, unknown> };

/**
 * Each subject's statements, and the keys that exist on one side only. Every such key says why in
 * its comment in sql.ts; a new one must be added here on purpose.
 */
const SUBJECTS: Record<string, { sql: Statements; postgresOnly?: string[]; sqliteOnly?: string[] }> = {
  applications: { sql: applications },
  endpoints: { sql: endpoints, postgresOnly: ['selectEndpointsByIds'], sqliteOnly: ['selectEndpointById', 'cancelOpenDeliveriesOfEndpoint', 'deleteListenSessionOfEndpoint'] },
  'event-types': { sql: eventTypes },
  messages: {
    sql: messages,
    postgresOnly: ['insertMessageWithFanOut', 'insertMessagesWithFanOut', 'selectMessagesByIds'],
    sqliteOnly: ['insertMessageTags', 'selectFanOutEndpoints', 'selectTargetedEndpoints', 'selectHandoffRoom', 'selectMessageById'],
  },
  deliveries: { sql: deliveries, postgresOnly: ['insertDeliveries', 'lockFifoEndpoints', 'lockEndpointForRecover', 'notifyDeliveriesQueued'], sqliteOnly: ['insertDelivery'] },
  'deliveries/claims': {
    sql: claims,
    postgresOnly: ['claimDueDeliveries', 'renewLeases'],
    sqliteOnly: ['selectReadyWindow', 'selectFirstAttemptWindow', 'selectRecentWindow', 'selectParkedEndpoints', 'selectEndpointSchedules', 'selectParkedHeads', 'leaseDeliveries', 'parkDeliveries', 'setThrottleTat', 'setAppThrottleTat', 'renewLease'],
  },
  'deliveries/completion': {
    sql: completion,
    postgresOnly: ['completeAttempt', 'completeAttempts'],
    sqliteOnly: ['insertAttempt', 'finishAttemptOnDelivery', 'supersedeOlderDeliveries', 'updateEndpointHealth'],
  },
  attempts: { sql: attempts },
  auth: { sql: auth },
  integrations: { sql: integrations },
  'listen-sessions': { sql: listenSessions },
  'background-tasks': { sql: backgroundTasks },
  retention: { sql: retention },
  stats: { sql: stats },
};

describe('statements of both databases side by side', () => {
  for (const [subject, { sql, postgresOnly = [], sqliteOnly = [] }] of Object.entries(SUBJECTS)) {
    it(`${subject}: the same keys in the same order, but for the listed one-sided ones`, () => {
      const postgresKeys = Object.keys(sql.postgres);
      const sqliteKeys = Object.keys(sql.sqlite);
      expect(postgresKeys.filter((key) => !sqliteKeys.includes(key))).toEqual(postgresOnly);
      expect(sqliteKeys.filter((key) => !postgresKeys.includes(key))).toEqual(sqliteOnly);
      expect(sqliteKeys.filter((key) => postgresKeys.includes(key))).toEqual(postgresKeys.filter((key) => sqliteKeys.includes(key)));
      for (const text of [...Object.values(sql.postgres), ...Object.values(sql.sqlite)]) expect(typeof text).toBe('string');
    });
  }

  it('no statement reads a table with *', () => {
    // `*` only over a CTE or a recordset whose columns the statement lists (see docs/architecture.md).
    const ownColumns = ['inserted', 'leased', 'candidates', 'json_to_recordset'];
    for (const { sql } of Object.values(SUBJECTS)) {
      for (const text of [...Object.values(sql.postgres), ...Object.values(sql.sqlite)] as string[]) {
        expect(text).not.toMatch(/RETURNING\s+\*/);
        for (const [, alias] of text.matchAll(/(\w+)\.\*/g)) expect(ownColumns, text).toContain(alias);
        for (const [, source] of text.matchAll(/SELECT \*[\s\S]*?\bFROM\s+(\w+)/g)) expect(ownColumns, text).toContain(source);
      }
    }
  });
});

describe('which subject owns each Store operation', () => {
  it('names every operation once', () => {
    const all = Object.values(OPERATIONS).flat();
    expect(new Set(all).size).toBe(all.length);
  });
});
