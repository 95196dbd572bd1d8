-- One row per login (token family), whatever the number of rotations: the
-- row holds the one refresh token that may rotate next, the one just rotated
-- (for an exact retry within the grace window) and a revoked flag. Every
-- token of the family carries its id as the `sid` claim, so revoking the
-- family revokes all of them at once.
CREATE TABLE families (
    id               TEXT PRIMARY KEY NOT NULL,
    sub              TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    -- The latest `exp` of any token of the family: after it the row can go.
    expires_at       INTEGER NOT NULL,
    revoked          INTEGER NOT NULL DEFAULT 0,
    current_refresh  TEXT NOT NULL,
    previous_refresh TEXT,
    rotated_at_ms    INTEGER,
    -- The claims of the pair the last rotation issued (JSON), re-signed for an
    -- exact retry of `previous_refresh` within the grace window.
    successor        TEXT,
    -- Refresh rate limit (token bucket).
    bucket_tokens    REAL NOT NULL,
    bucket_at_ms     INTEGER NOT NULL
);
CREATE INDEX families_sub ON families (sub);
CREATE INDEX families_expires ON families (expires_at);

-- Families of tokens issued before families had rows of their own. Their
-- tokens carry no `sid`: they stay reachable by `jti` through legacy_tokens.
INSERT INTO families (id, sub, created_at, expires_at, revoked, current_refresh,
                      bucket_tokens, bucket_at_ms)
SELECT family, min(sub), 0, max(exp), 0,
       coalesce(max(CASE WHEN kind = 'refresh' AND used = 0 THEN jti END), ''),
       0, 0
FROM issued_tokens GROUP BY family;

ALTER TABLE issued_tokens RENAME TO legacy_tokens;
