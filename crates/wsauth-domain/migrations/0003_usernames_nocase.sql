-- Usernames are unique without regard to letter case from now on; new
-- accounts are checked against this index. Accounts that already differ only
-- by case keep working by their exact spelling (the server warns about them).
CREATE INDEX users_username_folded ON users (lower(username));
