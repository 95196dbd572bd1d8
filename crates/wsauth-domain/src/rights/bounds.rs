//! How much channel rights one account may hold, stated once (the error
//! messages name these numbers too).

/// The most roles one account holds.
pub const MAX_ROLES: usize = 32;

/// The longest role, in bytes (a role is 1 to this many bytes of ASCII
/// letters, digits, `_`, `.`, `:` and `-`).
pub const MAX_ROLE_LEN: usize = 64;

/// The most grants one account holds.
pub const MAX_GRANTS: usize = 256;

/// The longest grant id looked up; a longer one names no grant (ids are
/// 32 hexadecimal digits) and is not sent to the database.
pub const MAX_GRANT_ID_LEN: usize = 64;
