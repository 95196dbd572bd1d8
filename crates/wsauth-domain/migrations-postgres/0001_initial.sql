-- The PostgreSQL schema: the same tables as SQLite's after its four
-- migrations (migrations/), in PostgreSQL's types. Times are Unix seconds
-- (BIGINT) unless the column says `_ms`.

-- Accounts. Usernames compare byte by byte ("C"), as in SQLite, so that the
-- admin list's cursor orders the same way on both; they are unique without
-- regard to letter case (the index on lower(username)), so of two
-- registrations differing only by case exactly one is inserted.
CREATE TABLE users (
    username      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- A disabled account is a standing block: every token of its subject is
    -- refused.
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX users_username_folded ON users (lower(username));

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    exp BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_exp ON revoked_tokens (exp);

-- "Log out everywhere": tokens of `sub` without a family issued before
-- `before` are revoked.
CREATE TABLE subject_marks (
    sub    TEXT PRIMARY KEY NOT NULL,
    before BIGINT NOT NULL
);

-- One row per login (token family), whatever the number of rotations: the
-- refresh token that may rotate next, the one just rotated (for an exact
-- retry within the grace window) and a revoked flag. Every token of the
-- family carries its id as the `sid` claim.
CREATE TABLE families (
    id               TEXT PRIMARY KEY NOT NULL,
    sub              TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    -- The latest `exp` of any token of the family: after it the row can go.
    expires_at       BIGINT NOT NULL,
    revoked          BOOLEAN NOT NULL DEFAULT FALSE,
    current_refresh  TEXT NOT NULL,
    previous_refresh TEXT,
    rotated_at_ms    BIGINT,
    -- The claims of the pair the last rotation issued (JSON), re-signed for an
    -- exact retry of `previous_refresh` within the grace window.
    successor        TEXT,
    -- Refresh rate limit (token bucket).
    bucket_tokens    DOUBLE PRECISION NOT NULL,
    bucket_at_ms     BIGINT NOT NULL
);
CREATE INDEX families_sub ON families (sub);
CREATE INDEX families_expires ON families (expires_at);

-- Tokens issued before families had rows (SQLite databases that predate
-- them). Empty on a new PostgreSQL database; kept so both schemas answer the
-- same queries.
CREATE TABLE legacy_tokens (
    jti    TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    sub    TEXT NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    exp    BIGINT NOT NULL,
    used   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX legacy_tokens_family ON legacy_tokens (family);
CREATE INDEX legacy_tokens_sub ON legacy_tokens (sub, exp);
CREATE INDEX legacy_tokens_exp ON legacy_tokens (exp);

-- Changes made by another process (the `wsauth user` commands) for running
-- servers to apply: each names the subject whose state to reload, and the
-- process that made it (a server skips its own).
CREATE TABLE admin_events (
    id     BIGSERIAL PRIMARY KEY,
    sub    TEXT NOT NULL,
    kind   TEXT NOT NULL,
    origin TEXT NOT NULL,
    at     BIGINT NOT NULL
);
