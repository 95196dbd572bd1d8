-- `admin_events` becomes the log of every committed revocation and account
-- change, not only the operators': a logout, a logout-all, reuse detection
-- and a revoked token id are recorded in the transaction that commits them,
-- and every server follows the log (ARCHITECTURE.md, "A revocation that
-- answered success on one node holds on every node"). A token revoked by
-- its id alone names it here. Servers that predate this read `sub` only.
ALTER TABLE admin_events ADD COLUMN jti TEXT;
