//! The wsauth server's domain and storage: accounts and their passwords,
//! token families and their rotation, the in-memory mirror of revocations
//! and how revocations travel (committed here, or received from elsewhere),
//! operator actions, and the SQLite and PostgreSQL stores with their
//! migrations.
//!
//! It knows nothing of HTTP or of the server's configuration: each part
//! takes a small settings type of its own ([`accounts::HashingLimits`],
//! [`families::RotationRules`], [`store::Database`]), and every operation
//! fails with one [`DomainError`], which the server maps to HTTP once.
//!
//! Layers, each importing only those below it:
//! - [`store`]: one trait per kind of record, one implementation per
//!   database (`store/sqlite/`, `store/postgres/`). A new store method is
//!   declared on its trait (`store/accounts.rs`, `families.rs`, `revoked.rs`,
//!   `log.rs` or `rights.rs`) and written once per database.
//! - [`mirror`]: revocations in memory, answering the library's
//!   [`wsauth::RevocationStore`] checks without waiting on the database.
//! - [`propagate`] (what this process commits) and [`inbound`] (what it
//!   hears of from elsewhere; [`watch`] follows the revocation log).
//! - [`accounts`], [`families`], [`admin`], [`rights`] (channel roles and
//!   grants of local accounts): the operations; [`profiles`] serves the
//!   stored rights to the channel hub.

pub mod accounts;
pub mod admin;
pub mod backend;
mod error;
pub mod families;
pub mod files;
pub mod inbound;
pub mod mirror;
pub mod profiles;
pub mod propagate;
pub mod rights;
pub mod store;
pub mod watch;

pub use backend::Backend;
pub use error::DomainError;
