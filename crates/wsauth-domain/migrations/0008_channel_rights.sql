-- Channel rights of local accounts: roles, and per-user grants of actions
-- (`subscribe`, `publish`, `presence`, comma-separated) on the channels a
-- pattern matches. Deleting an account deletes its rows (the cascade runs
-- in the delete's transaction). Every change is recorded in `admin_events`
-- with kind `rights`, in the transaction that commits it; servers that
-- predate this ignore the tables and reload the subject's revocations for
-- such an entry, which changes nothing.
CREATE TABLE account_roles (
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (username, role)
);

CREATE TABLE channel_grants (
    -- Listing order: the order grants were added in.
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    pattern  TEXT NOT NULL,
    actions  TEXT NOT NULL
);
CREATE INDEX channel_grants_username ON channel_grants (username);
