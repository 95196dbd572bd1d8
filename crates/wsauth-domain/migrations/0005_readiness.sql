-- One row that the readiness probe rewrites: a database that cannot commit
-- a write (full disk, read-only, locked) is not ready.
CREATE TABLE readiness (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, 0);
