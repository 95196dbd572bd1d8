//! The demo page at `/`: it talks only to its own origin, and its
//! Content-Security-Policy admits exactly its own inline script and style.

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

/// `GET /` (with an optional query): status, CSP header, other headers, body.
async fn get_page(server: &TestServer, query: &str) -> (reqwest::header::HeaderMap, String) {
    let r = server.http.get(server.url(&format!("/{query}"))).send().await.expect("get /");
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (headers, r.text().await.expect("body"))
}

/// The policy's directives, name -> source list.
fn directives(csp: &str) -> HashMap<String, Vec<String>> {
    csp.split(';')
        .filter_map(|d| {
            let mut parts = d.split_whitespace();
            let name = parts.next()?.to_ascii_lowercase();
            Some((name, parts.map(str::to_owned).collect()))
        })
        .collect()
}

/// The text of every `<tag>…</tag>` block, found independently of the server's own code.
fn blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    html.split(open.as_str())
        .skip(1)
        .map(|rest| rest.split(close.as_str()).next().expect("closed"))
        .collect()
}

fn sha256_source(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
}

#[tokio::test]
async fn page_csp_has_every_directive_and_no_unsafe_sources() {
    let server = TestServer::start().await;
    let (headers, _) = get_page(&server, "").await;
    assert_eq!(headers.get_all("content-security-policy").iter().count(), 1);
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    let d = directives(csp);
    let is = |name: &str, sources: &[&str]| {
        assert_eq!(d.get(name).cloned().unwrap_or_default(), sources, "{name} in {csp}");
    };
    is("default-src", &["'self'"]);
    is("connect-src", &["'self'"]);
    is("form-action", &["'self'"]);
    is("base-uri", &["'none'"]);
    is("frame-ancestors", &["'none'"]);
    is("object-src", &["'none'"]);
    for name in ["script-src", "style-src"] {
        let sources = d.get(name).unwrap_or_else(|| panic!("{name} missing from {csp}"));
        assert!(!sources.is_empty(), "{name} in {csp}");
        for s in sources {
            assert!(
                s.starts_with("'sha256-") && s.ends_with('\''),
                "{name} allows {s}: only hashes"
            );
        }
    }
    assert!(!csp.contains("unsafe"), "no 'unsafe-inline', 'unsafe-eval' or 'unsafe-hashes': {csp}");
    assert!(!csp.contains('*') && !csp.contains("data:") && !csp.contains("http"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-cache");
}

#[tokio::test]
async fn page_csp_hashes_are_exactly_the_pages_inline_script_and_style() {
    let server = TestServer::start().await;
    let (headers, body) = get_page(&server, "").await;
    let d = directives(headers["content-security-policy"].to_str().expect("ascii"));
    for tag in ["script", "style"] {
        let expected: Vec<String> = blocks(&body, tag).into_iter().map(sha256_source).collect();
        assert_eq!(expected.len(), 1, "one inline <{tag}>");
        assert_eq!(d[&format!("{tag}-src")], expected, "{tag}-src hashes the page's <{tag}>");
    }
    // Hash sources do not cover attributes: the page has no inline handlers or styles.
    let lower = body.to_ascii_lowercase();
    assert!(!lower.contains(" style="), "a style attribute would be blocked");
    for handler in [" onclick=", " onsubmit=", " onload=", " onerror=", " oninput=", " onkeydown="]
    {
        assert!(!lower.contains(handler), "inline handler {handler}");
    }
    assert!(!lower.contains("javascript:"));
    assert!(!lower.contains("<script src"), "nothing loaded from elsewhere");
    // The one link is the page's icon, from its own origin.
    let links: Vec<&str> = lower.split("<link").skip(1).collect();
    assert_eq!(links.len(), 1, "only the icon is linked");
    assert!(links[0].starts_with(r#" rel="icon" href="/favicon.svg""#), "{}", links[0]);
}

/// The page named no icon, so every browser's request for one was a 404.
#[tokio::test]
async fn the_page_icon_is_served_from_its_own_origin() {
    let server = TestServer::start().await;
    let (_, body) = get_page(&server, "").await;
    assert!(body.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#));
    let r = server.http.get(server.url("/favicon.svg")).send().await.expect("get icon");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.expect("svg").starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}

#[tokio::test]
async fn page_talks_only_to_its_own_origin_whatever_the_query_says() {
    let server = TestServer::start().await;
    let (_, plain) = get_page(&server, "").await;
    assert!(!plain.contains("server="), "no ?server= parameter, not even in the text");
    let script = blocks(&plain, "script").concat();
    // Nothing in the script reads the page's own URL beyond its host.
    for forbidden in ["location.search", "URLSearchParams", "location.hash", "location.href"] {
        assert!(!script.contains(forbidden), "the page reads {forbidden}");
    }
    // Requests are relative, sockets go to location.host: no absolute base in the script.
    assert!(script.contains("fetch(path,"), "HTTP requests use relative URLs");
    assert!(script.contains("//${location.host}`"), "sockets go to the page's own host");
    assert!(!script.contains("httpBase"));
    // The query is ignored: same page, same policy.
    let (headers, evil) = get_page(&server, "?server=evil.example:8080").await;
    assert_eq!(evil, plain);
    assert!(headers.contains_key("content-security-policy"));
}
