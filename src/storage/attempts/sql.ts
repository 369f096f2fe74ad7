// The attempt log (one row per HTTP exchange, or per refusal to make one): its lists and single
// reads. The statements of both databases, side by side; attempts are recorded by
// deliveries/completion.
import { ATTEMPT_COLUMNS, columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

/** An attempt list, driven by the index of its narrowest filter (`driver`). */
function attemptList(driver: string, { cast, messageFilters }: SqlFragments): string {
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
function attemptLists(f: SqlFragments) {
  return {
    listAttemptsByApp: attemptList('a.app_id = @appId', f),
    listAttemptsByMsg: attemptList('a.msg_id = @msgId AND a.app_id = @appId', f),
    listAttemptsByEndpoint: attemptList('a.endpoint_id = @endpointId AND a.app_id = @appId', f),
  };
}

const selectAttempt = `SELECT ${columns(ATTEMPT_COLUMNS)} FROM attempts WHERE id = @id AND msg_id = @msgId AND app_id = @appId`;
/** The response body an endpoint sent is replaced by the word Svix stores; the rest of the attempt stays. */
const expungeAttemptResponse = `UPDATE attempts SET response = 'EXPUNGED' WHERE id = @id AND msg_id = @msgId AND app_id = @appId`;

export const postgres = {
  ...attemptLists(pg),
  selectAttempt,
  expungeAttemptResponse,
};

export const sqlite = {
  ...attemptLists(lite),
  selectAttempt,
  expungeAttemptResponse,
} satisfies Record<keyof typeof postgres, string>;

/** Which list statement serves a query: the one of its narrowest filter. */
export function attemptListFor(query: { msgId?: string | null; endpointId?: string | null }): keyof typeof postgres & `listAttempts${string}` {
  return query.msgId ? 'listAttemptsByMsg' : query.endpointId ? 'listAttemptsByEndpoint' : 'listAttemptsByApp';
}
