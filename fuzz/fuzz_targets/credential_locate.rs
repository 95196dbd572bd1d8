//! Credential location and the whole pre-upgrade check, on requests written
//! as text:
//!
//! ```text
//! GET /ws?token=...&csrf_token=...
//! Cookie: access_token_cookie=...
//! Origin: https://app.example
//! ```
//!
//! A path starting with `/ws` is a WebSocket handshake, anything else an
//! HTTP request; `refresh`, `fresh` or `optional` in the path picks the
//! check (`access` otherwise). Headers that are not valid HTTP are skipped.
//!
//! Oracle: a located credential is never empty; HTTP requests carry only
//! header and cookie credentials; an accepted request carries a token of the
//! kind the check wants, came through the credential `locate` found, had no
//! Origin but the allowed one (and a cookie credential on a socket had it),
//! and a cookie credential came with its CSRF value wherever one is needed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use wsauth::axum::http::{HeaderName, HeaderValue, Method, Request, header, request::Parts};
use wsauth::axum::response::IntoResponse;
use wsauth::{
    Algorithm, Check, CredentialKind, Key, KeySet, ManualClock, TokenAuthority, TokenKind, WsAuth,
};

const NOW: i64 = 1_700_000_000;
const SECRET: &[u8] = b"wsauth-fuzz-current-secret-of-32-bytes";
const ORIGIN: &str = "https://app.example";

fn auth() -> &'static WsAuth {
    static AUTH: OnceLock<WsAuth> = OnceLock::new();
    AUTH.get_or_init(|| {
        let key = Key::hmac(Algorithm::HS256, SECRET).expect("key");
        let clock = Arc::new(ManualClock::new(NOW));
        WsAuth::builder(TokenAuthority::new(KeySet::new(key)).with_clock(clock))
            .allowed_origins([ORIGIN])
            .build()
    })
}

/// Polls a future once: the in-memory stores never wait.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn request(text: &str) -> Option<Parts> {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder().method(Method::from_bytes(method.as_bytes()).ok()?);
    builder = builder.uri(target);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        else {
            continue;
        };
        builder = builder.header(name, value);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

fn query_value(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(parts) = request(text) else { return };
    let path = parts.uri.path();
    let websocket = path.starts_with("/ws");
    let check = if path.contains("refresh") {
        Check::Refresh
    } else if path.contains("fresh") {
        Check::Fresh
    } else if path.contains("optional") {
        Check::Optional
    } else {
        Check::Access
    };
    let wanted = if check == Check::Refresh { TokenKind::Refresh } else { TokenKind::Access };

    let located = if websocket {
        wsauth::__fuzz::locate_in_handshake(&parts, wanted)
    } else {
        wsauth::__fuzz::locate_in_request(&parts, wanted)
    };
    if let Ok(found) = &located {
        assert!(!found.value.is_empty(), "an empty credential was located");
        if !websocket {
            assert!(
                matches!(found.kind, CredentialKind::Header | CredentialKind::Cookie),
                "HTTP credential from {:?}",
                found.kind
            );
        }
        if websocket && found.kind == CredentialKind::Cookie {
            assert!(found.csrf.is_some(), "a socket cookie without its CSRF value");
        }
    }

    let outcome = if websocket {
        ready(wsauth::__fuzz::authenticate_upgrade(auth(), &parts, check))
    } else {
        ready(auth().authenticate_http(&parts, check))
    };
    let Some(outcome) = outcome else { panic!("the in-memory stores never wait") };
    match outcome {
        Err(e) => {
            let _ = (e.code(), e.close_code(), e.status());
            let _ = e.into_response();
        }
        Ok(None) => assert_eq!(check, Check::Optional, "no credential passed a required check"),
        Ok(Some(authenticated)) => {
            let claims = &authenticated.claims;
            assert_eq!(claims.kind, wanted, "a token of the wrong kind passed");
            if check == Check::Fresh {
                assert_eq!(claims.fresh, Some(true), "a stale token passed a fresh check");
            }
            let found = located.as_ref().expect("an accepted request had a located credential");
            if found.kind != CredentialKind::Ticket {
                assert_eq!(authenticated.credential, found.kind, "credential kind changed");
            }
            let origins: Vec<_> = parts.headers.get_all(header::ORIGIN).iter().collect();
            if websocket {
                assert!(origins.iter().all(|o| o.as_bytes() == ORIGIN.as_bytes()), "bad Origin");
                assert!(origins.len() <= 1, "two Origin headers passed");
            }
            if authenticated.credential == CredentialKind::Cookie {
                let csrf = claims.csrf.as_deref();
                if websocket {
                    assert_eq!(origins.len(), 1, "a socket cookie credential without Origin");
                    let presented = query_value(&parts, "csrf_token");
                    assert!(csrf.is_some() && presented.as_deref() == csrf, "CSRF mismatch");
                } else if !is_safe(&parts.method) {
                    let presented = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
                    assert!(csrf.is_some() && presented == csrf, "CSRF mismatch");
                }
            }
        }
    }
});
