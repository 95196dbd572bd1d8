//! The wsauth server: accounts, login/refresh/logout, cookie mode, one-time
//! tickets, a guarded WebSocket endpoint and a demo page, on SQLite or
//! PostgreSQL, alone or as one node of several sharing a Redis.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod cluster;
pub mod config;
pub mod error;
pub mod families;
pub mod files;
pub mod health;
pub mod keyfile;
pub mod metrics;
pub mod propagate;
pub mod proxy;
pub mod revocations;
mod routes;
mod serve;
mod sockets;
pub mod state;
pub mod store;
mod stream;
pub mod telemetry;
pub mod trusted_issuers;
pub mod watch;

pub use app::Application;
pub use config::{Config, Overrides};
