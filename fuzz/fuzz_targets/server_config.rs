//! The server's configuration file: `Config::from_toml` (what
//! `Config::load` does with a file's text) on arbitrary text.
//!
//! Oracle: a configuration that loads can run. Every rate and burst is a
//! finite number of at least 0, every timer fits (at most a day), and the
//! library objects `Application::build` makes from it come up and work: an
//! access and a refresh token it issues verify, and a ticket issued for the
//! access token opens a WebSocket handshake once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use wsauth::axum::http::Request;
use wsauth::{Algorithm, Check, IssueOptions, Key, KeySet, ManualClock, TokenAuthority};
use wsauth_server::{Config, Overrides};

const NOW: i64 = 1_700_000_000;
const DAY: Duration = Duration::from_secs(86_400);
/// The port the server would be listening on (its default origins).
const PORT: u16 = 8000;

/// Polls a future once: the in-memory stores never wait.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory stores never wait"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::from_toml(text, &Overrides::default()) else { return };
    let limits = &config.limits;
    for (name, value) in [
        ("message_rate", limits.message_rate),
        ("message_burst", limits.message_burst),
        ("handshake_rate", limits.handshake_rate),
        ("handshake_burst", limits.handshake_burst),
        ("password_rate", limits.password_rate),
        ("password_burst", limits.password_burst),
        ("refresh_rate", limits.refresh_rate),
        ("refresh_burst", limits.refresh_burst),
    ] {
        assert!(value.is_finite() && value >= 0.0, "limits.{name} = {value} was accepted");
    }
    let live = limits.live_config();
    for (name, value) in [
        ("ping_interval", live.ping_interval),
        ("pong_timeout", live.pong_timeout),
        ("write_timeout", live.write_timeout),
        ("auth_timeout", live.auth_timeout),
    ] {
        assert!(value <= DAY, "limits.{name} = {value:?} was accepted");
    }
    assert!(live.expiry_grace_secs >= 0, "a negative expiry grace was accepted");

    // What `Application::build` makes of it, through the same mapping
    // (`Config::token_settings`, `Config::auth_builder`).
    let key = Key::hmac(Algorithm::HS256, b"wsauth-fuzz-current-secret-of-32-bytes").expect("key");
    let tokens = TokenAuthority::with_settings(KeySet::new(key), config.token_settings())
        .with_clock(Arc::new(ManualClock::new(NOW)));
    // A trusted issuer that cannot be used stops `Application::build` too.
    let Ok(builder) = config.auth_builder(tokens.clone(), PORT) else { return };
    let auth = builder.build();
    let _ = config.rotation_rules();

    let access = tokens.issue_access("alice", IssueOptions::default()).expect("issue access");
    let refresh = tokens.issue_refresh("alice", IssueOptions::default()).expect("issue refresh");
    assert!(tokens.verify(&access.token).is_ok(), "an access token it issued does not verify");
    assert!(tokens.verify(&refresh.token).is_ok(), "a refresh token it issued does not verify");
    let Ok(issued) = ready(auth.issue_ticket(&access.claims)) else {
        panic!("no ticket for a valid access token");
    };
    let ticket = issued.ticket;
    let uri = format!("/ws?{}={ticket}", auth.names().ticket_query);
    let Ok(request) = Request::get(uri).body(()) else { return };
    let parts = request.into_parts().0;
    let opened = ready(wsauth::__fuzz::authenticate_upgrade(&auth, &parts, Check::Access));
    assert!(matches!(opened, Ok(Some(_))), "a fresh ticket did not open a socket: {opened:?}");
    let again = ready(wsauth::__fuzz::authenticate_upgrade(&auth, &parts, Check::Access));
    assert!(again.is_err(), "a ticket opened two sockets");
});
