-- An account's generation: a random value that every operator change ending
-- the account's logins (a new password, a disable, a revoke) replaces, in
-- the change's transaction. A login stores its family only if the account
-- still has the generation it read with the password hash (read `FOR SHARE`
-- in the same transaction as the insert), so a login checked against the
-- account as it was never outlives the change. A new account gets a fresh
-- one, so an account registered later under a deleted one's name never
-- matches it.
ALTER TABLE users ADD COLUMN generation TEXT NOT NULL DEFAULT '';
UPDATE users SET generation = md5(random()::text || clock_timestamp()::text || username);
