//! attack-cases.md section A: token structure and signature. Every case is a
//! 401 before the upgrade, with the bearer challenge and a stable error code.

use crate::support::*;
use serde_json::json;

pub(crate) async fn assert_token_rejected(server: &TestServer, token: &str) {
    let r = rejected(server.ws(&format!("/ws?token={}", urlencode(token)), &[]).await).await;
    r.assert_401("invalid_token");
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a01_no_credential_is_401_missing_token() {
    let server = TestServer::start().await;
    rejected(server.ws("/ws", &[]).await).await.assert_401("missing_token");
}

#[tokio::test]
async fn a02_malformed_authorization_headers_are_401() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    for value in [
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
        "Bearer a b",
        &format!("Bearer  {access}"),
        &format!("Bearer\t{access}"),
        &format!("Token {access}"),
    ] {
        let r = rejected(server.ws("/ws", &[("authorization", value)]).await).await;
        assert_eq!(r.status, 401, "{value:?}: {r:?}");
    }
    // Case of the scheme does not matter (RFC 7235).
    let (mut ws, _) =
        server.ws("/ws", &[("authorization", &format!("bEaReR {access}"))]).await.expect("101");
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
}

#[tokio::test]
async fn a03_alg_none_in_every_spelling_is_rejected() {
    let server = TestServer::start().await;
    let p = payload("alice", server.now(), |_| {});
    let signed = server.forge(|_| {});
    let copied_sig = signed.rsplit('.').next().unwrap_or_default();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#);
        let base = format!("{}.{}", b64(header.as_bytes()), b64(p.as_bytes()));
        assert_token_rejected(&server, &format!("{base}.")).await;
        assert_token_rejected(&server, &format!("{base}.{copied_sig}")).await;
    }
}

#[tokio::test]
async fn a05_algorithms_outside_the_configured_key_are_rejected() {
    let server = TestServer::start().await;
    let p = payload("alice", server.now(), |_| {});
    for alg in ["HS384", "HS512", "PS256", "ES256K", "EdDSA", "RS256", "ES256"] {
        let header = format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#);
        // Even an HMAC made with the right secret does not pass under another alg name.
        assert_token_rejected(&server, &sign_raw(&header, &p, SECRET.as_bytes())).await;
    }
}

#[tokio::test]
async fn a07_stripped_truncated_or_foreign_signatures_are_rejected() {
    let server = TestServer::start().await;
    let token = server.forge(|_| {});
    let (head, _sig) = token.rsplit_once('.').unwrap_or_default();
    assert_token_rejected(&server, &format!("{head}.")).await;
    assert_token_rejected(&server, &token[..token.len() - 1]).await;
    let other = sign_raw(
        HS256_HEADER,
        &payload("alice", server.now(), |_| {}),
        b"another-secret-of-32-bytes-or-more!!",
    );
    assert_token_rejected(&server, &other).await;
}

#[tokio::test]
async fn a08_payload_changed_under_the_original_signature_is_rejected() {
    let server = TestServer::start().await;
    let token = server.forge(|_| {});
    let parts: Vec<&str> = token.split('.').collect();
    let evil = payload("mallory", server.now(), |_| {});
    let swapped = format!("{}.{}.{}", parts[0], b64(evil.as_bytes()), parts[2]);
    assert_token_rejected(&server, &swapped).await;
}

#[tokio::test]
async fn a09_wrong_segment_counts_and_encodings_are_rejected() {
    let server = TestServer::start().await;
    let token = server.forge(|_| {});
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!(".{}.{}", parts[1], parts[2]),
        format!("{}..{}", parts[0], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!("{}+.{}.{}", parts[0], parts[1], parts[2]),
        format!("{} .{}.{}", parts[0], parts[1], parts[2]),
        format!("{}\n.{}.{}", parts[0], parts[1], parts[2]),
        "not-a-token".to_owned(),
    ];
    for case in cases {
        assert_token_rejected(&server, &case).await;
    }
}

#[tokio::test]
async fn a10_non_json_arrays_bad_utf8_and_duplicate_keys_are_rejected() {
    let server = TestServer::start().await;
    let good_payload = payload("alice", server.now(), |_| {});
    let sign_bytes = |header: &[u8], payload: &[u8]| {
        let input = format!("{}.{}", b64(header), b64(payload));
        format!("{input}.{}", b64(&hmac_sha256(SECRET.as_bytes(), input.as_bytes())))
    };
    let cases = [
        sign_bytes(b"not json", good_payload.as_bytes()),
        sign_bytes(HS256_HEADER.as_bytes(), b"not json"),
        sign_bytes(b"[\"HS256\"]", good_payload.as_bytes()),
        sign_bytes(HS256_HEADER.as_bytes(), b"[1,2,3]"),
        sign_bytes(HS256_HEADER.as_bytes(), b"{\"sub\":\"\xff\xfe\"}"),
        sign_bytes(br#"{"alg":"HS256","alg":"none"}"#, good_payload.as_bytes()),
    ];
    for case in cases {
        assert_token_rejected(&server, &case).await;
    }
    // {"sub":"alice", ..., "sub":"admin"}: the duplicate never silently wins.
    let dup = good_payload.replacen('{', r#"{"sub":"admin","#, 1);
    assert_token_rejected(&server, &sign_raw(HS256_HEADER, &dup, SECRET.as_bytes())).await;
}

#[tokio::test]
async fn a11_jwe_and_nested_jwt_are_rejected() {
    let server = TestServer::start().await;
    assert_token_rejected(&server, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d").await;
    let nested = sign_raw(
        r#"{"alg":"HS256","cty":"JWT"}"#,
        &payload("alice", server.now(), |_| {}),
        SECRET.as_bytes(),
    );
    assert_token_rejected(&server, &nested).await;
}

#[tokio::test]
async fn a12_crit_header_is_rejected() {
    let server = TestServer::start().await;
    let t = sign_raw(
        r#"{"alg":"HS256","crit":["exp-ext"],"exp-ext":1}"#,
        &payload("alice", server.now(), |_| {}),
        SECRET.as_bytes(),
    );
    assert_token_rejected(&server, &t).await;
}

#[tokio::test]
async fn a13_oversized_tokens_and_deep_json_fail_fast() {
    let server = TestServer::start().await;
    // 16 KiB token (validly signed, padded with a custom claim).
    let big = server.forge(|m| {
        m.insert("pad".into(), json!("x".repeat(16 * 1024)));
    });
    assert_token_rejected(&server, &big).await;
    // JSON nested 100,000 deep inside a token under the size limit is refused
    // by the length check or the parser's depth limit, never by a crash.
    let deep = format!("{}1{}", "[".repeat(3000), "]".repeat(3000));
    let t = sign_raw(HS256_HEADER, &format!(r#"{{"sub":"a","x":{deep}}}"#), SECRET.as_bytes());
    assert_token_rejected(&server, &t).await;
    // A 1 MiB header is refused by the HTTP layer (431 or a closed
    // connection), never a 101 or a 5xx.
    let huge = format!("Bearer {}", "a".repeat(1024 * 1024));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url("/ws"),
        )
        .expect("request");
    request.headers_mut().insert("authorization", huge.parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("1 MiB request upgraded"),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert!(r.status().is_client_error(), "{}", r.status());
        }
        Err(_) => {} // the connection was closed by the server: refused
    }
    // The server is still fine.
    let (access, _) = server.login("alice").await;
    server.ws_welcome(&access).await;
}
