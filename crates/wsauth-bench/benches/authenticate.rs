//! The whole HTTP authentication path of `WsAuth::authenticate_http`: locate the
//! credential (header or cookie + CSRF), verify, check kind and revocation.
//!
//! `cargo bench -p wsauth-bench --bench authenticate`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wsauth::axum::http::{Method, Request, request::Parts};
use wsauth::{Algorithm, Check, IssueOptions, Key, KeySet, TokenAuthority, WsAuth};

fn parts(method: Method, headers: &[(&str, String)]) -> Parts {
    let mut builder = Request::builder().method(method).uri("/auth/me");
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(()).expect("request builds").into_parts().0
}

fn authenticate_http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime starts");
    let authority = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")));
    let auth = WsAuth::builder(authority.clone()).build();
    let bearer = authority.issue_access("alice", IssueOptions::default()).expect("issue works");
    let cookie = authority
        .issue_access("alice", IssueOptions { csrf: true, ..IssueOptions::default() })
        .expect("issue works");
    let csrf = cookie.claims.csrf.clone().expect("csrf claim present");

    let cases = [
        ("header", parts(Method::GET, &[("authorization", format!("Bearer {}", bearer.token))])),
        (
            "cookie_get",
            parts(Method::GET, &[("cookie", format!("access_token_cookie={}", cookie.token))]),
        ),
        (
            "cookie_post_csrf",
            parts(
                Method::POST,
                &[
                    (
                        "cookie",
                        format!("csrf_access_token={csrf}; access_token_cookie={}", cookie.token),
                    ),
                    ("x-csrf-token", csrf.clone()),
                ],
            ),
        ),
        ("missing", parts(Method::GET, &[])),
    ];
    let mut group = c.benchmark_group("authenticate_http");
    for (name, p) in &cases {
        let expect_ok = *name != "missing";
        group.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let result = auth.authenticate_http(black_box(p), Check::Access).await;
                assert_eq!(result.is_ok(), expect_ok, "{name}: {result:?}");
                result
            });
        });
    }
    group.finish();
}

criterion_group!(benches, authenticate_http);
criterion_main!(benches);
