//! What a domain operation can fail with. The server maps each variant to
//! an HTTP status and error code in one place (`wsauth-server`'s `error.rs`);
//! the command line prints it.

use wsauth::AuthError;

use crate::store::DatabaseError;

/// Everything an operation on accounts, families or the admin log can fail
/// with. A failed operation had no effect.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A token was refused (a refresh token not ours, revoked, reused).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Wrong username or password.
    #[error("Bad username or password")]
    BadCredentials,
    /// The username is taken.
    #[error("Username is already taken")]
    UsernameTaken,
    /// The username does not fit the rules.
    #[error("Username must be 3 to 64 characters of letters, digits, '_', '.' or '-'")]
    InvalidUsername,
    /// The password does not fit the rules.
    #[error("Password must be 8 to 1024 bytes")]
    WeakPassword,
    /// A page cursor that this server did not hand out.
    #[error("Invalid cursor")]
    InvalidCursor,
    /// A page size outside 1 to `admin::MAX_PAGE`.
    #[error("limit must be 1 to 500")]
    InvalidPageSize,
    /// No account has this username.
    #[error("User not found")]
    UserNotFound,
    /// A role that does not fit the rules.
    #[error(
        "A role must be 1 to {} bytes of letters, digits, '_', '.', ':' or '-'",
        crate::rights::bounds::MAX_ROLE_LEN
    )]
    InvalidRole,
    /// More roles than one account may hold.
    #[error("A user holds at most {} roles", crate::rights::bounds::MAX_ROLES)]
    TooManyRoles,
    /// A channel pattern that does not parse (the reason).
    #[error("Invalid channel pattern: {0}")]
    InvalidPattern(&'static str),
    /// A list of actions that is empty or names an unknown one.
    #[error("Invalid actions: {0}")]
    InvalidActions(String),
    /// The account holds as many grants as it may.
    #[error("A user holds at most {} grants; delete one first", crate::rights::bounds::MAX_GRANTS)]
    TooManyGrants,
    /// The account holds no grant of this id.
    #[error("Grant not found")]
    GrantNotFound,
    /// The account is disabled.
    #[error("This account is disabled")]
    AccountDisabled,
    /// Too many password checks are waiting.
    #[error("Too many password checks in progress; try again shortly")]
    Overloaded,
    /// A backend failed (logged where it happened).
    #[error("Service unavailable")]
    Unavailable,
}

impl From<DatabaseError> for DomainError {
    fn from(e: DatabaseError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Unavailable
    }
}

impl From<wsauth::StoreError> for DomainError {
    fn from(e: wsauth::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        Self::Unavailable
    }
}

impl From<wsauth::IssueError> for DomainError {
    fn from(e: wsauth::IssueError) -> Self {
        tracing::error!(error = %e, "cannot issue token");
        Self::Unavailable
    }
}
