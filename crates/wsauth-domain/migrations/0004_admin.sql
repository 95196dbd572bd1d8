-- A disabled account is a standing block: it cannot log in, and every token
-- of its subject is refused, even one minted later by a service sharing the
-- secret.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- Changes made by another process (the `wsauth user` commands) for running
-- servers to apply: each names the subject whose state to reload, and the
-- process that made it (a server skips its own).
CREATE TABLE admin_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    sub    TEXT NOT NULL,
    kind   TEXT NOT NULL,
    origin TEXT NOT NULL,
    at     INTEGER NOT NULL
);
