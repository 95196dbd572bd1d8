//! Integration tests: the real server on port 0, real clients over loopback.

#![allow(unreachable_pub)]

mod binary;
mod databases;
mod jwks_provider;
mod proxy_upstream;
mod redis_servers;
mod support;
mod tcp_forwarder;

mod admin;
mod attacks_accounts;
mod attacks_claims;
mod attacks_issuers;
mod attacks_keys;
mod attacks_login_race;
mod attacks_page;
mod attacks_partition;
mod attacks_proxy_headers;
mod attacks_proxy_sockets;
mod attacks_refresh;
mod attacks_structure;
mod attacks_transport;
mod backend_faults;
mod checks;
mod client_addresses;
mod cluster;
mod cluster_outage;
mod cluster_processes;
mod cluster_revocations;
mod config_errors;
mod connection_caps;
mod credentials;
mod documented_settings;
mod fastapi_compat;
mod floods;
mod forward_auth;
mod jwks;
mod layers;
mod lifecycle;
mod live;
mod logs;
mod openapi;
mod operations;
mod postgres;
mod proxy;
mod proxy_lifecycle;
mod proxy_tls;
mod reads;
mod refused_settings;
mod renamed_settings;
mod restarts;
mod seed_regressions;
mod sessions;
mod slow_clients;
mod stores;
