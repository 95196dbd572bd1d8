//! The wsauth server: accounts, login/refresh/logout, cookie mode, one-time
//! tickets, a guarded WebSocket endpoint and a demo page, on SQLite or
//! PostgreSQL, alone or as one node of several sharing a Redis.

pub mod app;
mod channel_authorizer;
mod cluster;
pub mod config;
mod error;
mod health;
mod keyfile;
mod metrics;
pub mod proxy;
mod routes;
mod serve;
mod sockets;
mod state;
mod stream;
mod summary;
pub mod telemetry;
mod token_roles;
pub mod trusted_issuers;

pub use app::Application;
pub use config::{Config, Overrides};
