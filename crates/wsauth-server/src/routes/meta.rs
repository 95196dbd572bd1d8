//! The demo page, health, the public keys and the API description.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use std::sync::LazyLock;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

const INDEX: &str = include_str!("../../assets/index.html");
/// The page's icon, so that a browser's request for one is not a 404.
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// Served when the policy cannot be built: the page then runs nothing at all.
const FALLBACK_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's policy, hashed once: the page is compiled in and never changes.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::try_from(page_csp(INDEX))
        .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP))
});

pub(super) fn router() -> OpenApiRouter<AppState> {
    // Hash the page's code now, at startup, rather than on the first visit.
    LazyLock::force(&CSP);
    OpenApiRouter::default()
        .routes(routes!(index))
        .routes(routes!(favicon))
        .routes(routes!(healthz))
        .routes(routes!(jwks))
        .routes(routes!(openapi_json))
}

/// The demo page. It talks only to its own origin and is served with a
/// hash-based Content-Security-Policy (docs/protocol.md).
#[utoipa::path(
    get, path = "/", tag = "meta",
    responses((status = 200, description = "The page", content_type = "text/html",
        body = String,
        headers(
            ("Content-Security-Policy" = String),
            ("X-Frame-Options" = String, description = "`DENY`"),
            ("X-Content-Type-Options" = String, description = "`nosniff`"),
            ("Referrer-Policy" = String, description = "`no-referrer`"),
            ("Cache-Control" = String, description = "`no-cache`"),
        )))
)]
async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP.clone()),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Html(INDEX),
    )
}

/// The demo page's icon (SVG), named by its `<link rel="icon">`.
#[utoipa::path(
    get, path = "/favicon.svg", tag = "meta",
    responses((status = 200, description = "The icon", content_type = "image/svg+xml",
        body = String,
        headers(("Cache-Control" = String, description = "`public, max-age=86400`"))))
)]
async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        FAVICON,
    )
}

/// The page's Content-Security-Policy: its own origin only, and of inline code
/// exactly its `<script>` and `<style>` blocks, admitted by their SHA-256 hashes
/// (no `'unsafe-inline'`, no `'unsafe-eval'`, no inline event handlers or
/// `style` attributes).
fn page_csp(html: &str) -> String {
    let sources =
        |tag: &str| inline_blocks(html, tag).iter().map(|b| hash_source(b)).collect::<Vec<_>>();
    let scripts = sources("script");
    let styles = sources("style");
    // With nothing to admit, 'none' rather than an empty (and so invalid) list.
    let list = |s: Vec<String>| if s.is_empty() { "'none'".to_owned() } else { s.join(" ") };
    format!(
        "default-src 'self'; script-src {}; style-src {}; connect-src 'self'; \
         object-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        list(scripts),
        list(styles),
    )
}

/// The text of each `<tag ...>…</tag>` element in `html`, as the browser hashes it.
fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<scripts>` or `<style-x>` are other elements.
        if !after.starts_with(['>', ' ', '\t', '\n', '\r']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        blocks.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    blocks
}

/// A CSP hash source, `'sha256-<base64>'`, for an inline block's UTF-8 text.
fn hash_source(block: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, block.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
}

/// The process is up.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: HealthStatus,
}

/// The only answer `/healthz` gives.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    /// Up.
    Ok,
}

/// Liveness: the process answers (readiness is `/readyz`).
#[utoipa::path(
    get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "Up", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: HealthStatus::Ok })
}

/// A JSON Web Key Set (RFC 7517).
#[derive(ToSchema)]
struct Jwks {
    /// The public keys (none for HMAC keys); each has `kid`, `kty`, `alg`, `use`.
    #[expect(dead_code, reason = "describes the body `KeySet::jwks` writes")]
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The public keys that verify this server's tokens.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "The key set", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=300`"))))
)]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.auth.tokens().keys().jwks()))
}

/// This document: the HTTP API in OpenAPI 3.1.
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document",
        content_type = "application/json", body = Object))
)]
async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::document_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_script_and_one_style_and_both_are_hashed() {
        assert_eq!(inline_blocks(INDEX, "script").len(), 1);
        assert_eq!(inline_blocks(INDEX, "style").len(), 1);
        let csp = page_csp(INDEX);
        assert!(HeaderValue::try_from(csp.as_str()).is_ok(), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
    }

    #[test]
    fn blocks_are_found_with_attributes_and_not_in_longer_tag_names() {
        let html = "<scripts>x</scripts><script type=\"module\">a</script><script>b</script>";
        assert_eq!(inline_blocks(html, "script"), ["a", "b"]);
        assert_eq!(inline_blocks("<style>unclosed", "style"), Vec::<&str>::new());
    }

    #[test]
    fn a_page_without_inline_code_admits_none() {
        let csp = page_csp("<p>static</p>");
        assert!(csp.contains("script-src 'none';"), "{csp}");
        assert!(csp.contains("style-src 'none';"), "{csp}");
    }

    #[test]
    fn the_hash_is_the_base64_sha256_of_the_exact_text() {
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hash_source("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }
}
