// The attempt log (one row per HTTP exchange, or per refusal to make one): its lists and single
// reads. The statements of both databases, side by side; attempts are recorded by
// deliveries/completion.
import { ATTEMPT_COLUMNS, columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite } from '../shared/sql-fragments.js';

/**
 * An attempt list, driven by the index of its narrowest filter (`driver`). The databases differ in
 * the parameter casts PostgreSQL needs to type a NULL, and in the message filters (fragments).
 */
function attemptList(driver: string, cast: (type: string) => string, messageFilters: string): string {
  return `
    SELECT ${columns(ATTEMPT_COLUMNS, 'a')} FROM attempts a JOIN messages m ON m.id = a.msg_id
    WHERE ${driver} AND a.id {cmp} @cursor
      AND (@msgId${cast('text')} IS NULL OR a.msg_id = @msgId)
      AND (@endpointId${cast('text')} IS NULL OR a.endpoint_id = @endpointId)
      AND (@status${cast('text')} IS NULL OR a.status = @status)
      AND (@statusCodeClass${cast('integer')} IS NULL
           OR (@statusCodeClass = 0 AND a.response_status_code = 0)
           OR (@statusCodeClass > 0 AND a.response_status_code >= @statusCodeClass
               AND a.response_status_code < @statusCodeClass + 100))
      AND (@before${cast('bigint')} IS NULL OR a.attempted_at < @before)
      AND (@after${cast('bigint')} IS NULL OR a.attempted_at > @after)
      ${messageFilters}
    ORDER BY a.id {dir} LIMIT @limit`;
}

/** The three attempt lists, each through the index that matches its narrowest filter. */
function attemptLists(cast: (type: string) => string, messageFilters: string) {
  return {
    listAttemptsByApp: attemptList('a.app_id = @appId', cast, messageFilters),
    listAttemptsByMsg: attemptList('a.msg_id = @msgId AND a.app_id = @appId', cast, messageFilters),
    listAttemptsByEndpoint: attemptList('a.endpoint_id = @endpointId AND a.app_id = @appId', cast, messageFilters),
  };
}

const selectAttempt = `SELECT ${columns(ATTEMPT_COLUMNS)} FROM attempts WHERE id = @id AND msg_id = @msgId AND app_id = @appId`;

export const postgres = {
  ...attemptLists((type) => `::${type}`, pg.messageFilters),
  selectAttempt,
};

export const sqlite = {
  ...attemptLists(() => '', lite.messageFilters),
  selectAttempt,
} satisfies Record<keyof typeof postgres, string>;

/** Which list statement serves a query: the one of its narrowest filter. */
export function attemptListFor(query: { msgId?: string | null; endpointId?: string | null }): keyof typeof postgres & `listAttempts${string}` {
  return query.msgId ? 'listAttemptsByMsg' : query.endpointId ? 'listAttemptsByEndpoint' : 'listAttemptsByApp';
}
