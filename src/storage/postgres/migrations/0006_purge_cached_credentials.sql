-- 0006 (PostgreSQL): purge cached idempotent responses that carry a credential. Until now every 2xx answer to a
-- POST with an idempotency-key was stored for replay for 12 h, among them the answer of
-- app-portal-access, whose JSON body holds the minted token in clear (`{"url": "…/portal#token=…",
-- "token": "…"}`), although only token hashes are meant to be stored. Routes whose answer carries a
-- token or a secret are no longer cached (RouteSpec.carriesCredentials); this deletes what is left.
--
-- The bodies are JSON.stringify output, so a token field is the exact text `"token":` (no space),
-- and the portal link carries `#token=`. Both are matched anywhere in the body rather than as the
-- exact app-portal-access shape, so a reordered or extended body is still caught. A message whose
-- payload has a "token" key is purged too: the cost is that a retry within 12 h of its first
-- request is accepted again instead of replayed, once, which is better than a credential kept.
-- (0005 is another change's number; migrations are applied by version, so the gap is harmless.)
DELETE FROM idempotency_responses
WHERE body LIKE '%"token":%' OR body LIKE '%#token=%';
