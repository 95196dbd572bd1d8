-- Accounts, revocations and the families of tokens issued by one login.
CREATE TABLE users (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    exp INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_exp ON revoked_tokens (exp);

-- "Log out everywhere": tokens of `sub` issued before `before` are revoked.
CREATE TABLE subject_marks (
    sub    TEXT PRIMARY KEY NOT NULL,
    before INTEGER NOT NULL
);

-- Every token this server issued, grouped by the login (family) it came from.
-- A refresh token is `used` once it has been rotated; presenting it again
-- revokes its whole family.
CREATE TABLE issued_tokens (
    jti    TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    sub    TEXT NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    exp    INTEGER NOT NULL,
    used   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX issued_tokens_family ON issued_tokens (family);
CREATE INDEX issued_tokens_sub ON issued_tokens (sub, exp);
CREATE INDEX issued_tokens_exp ON issued_tokens (exp);
