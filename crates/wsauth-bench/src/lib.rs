//! Shared pieces of the wsauth benchmark tools: loopback-only addressing,
//! HS256 tokens in fastapi-jwt-auth's claim layout, `/proc` readings and
//! latency summaries.

#![warn(missing_docs)]

pub mod jwt;
pub mod loopback;
pub mod procfs;
pub mod stats;
