//! The machine-readable description of the HTTP API, `GET /openapi.json`
//! (OpenAPI 3.1), generated from the routes themselves: each resource
//! registers its routes through `OpenApiRouter::routes(routes!(...))`, which
//! takes the path and method from the handler's `#[utoipa::path]`, so a
//! handler cannot be routed without being described. The tests below check
//! that no route is added any other way.
//!
//! Here: the document's frame (info, tags), the security schemes, and the
//! error responses the operations share.

use std::sync::LazyLock;

use utoipa::openapi::ObjectBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToResponse};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

const DESCRIPTION: &str = "Authenticated WebSockets and the HTTP routes beside them. \
The prose reference is docs/protocol.md; this document is generated from the \
server's routes. Every error is `{\"detail\", \"error\"}` with a stable `error` \
code. Any request may also be refused before it is read, with 503 `unavailable` \
or 429 `too_many_requests` (both with `Retry-After: 1`), when the server or the \
client's address is at its connection cap. `/metrics` and `/admin/*` are served \
on the internal address instead when `metrics_listen` is set.";

#[derive(OpenApi)]
#[openapi(
    info(title = "wsauth", description = DESCRIPTION),
    components(responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        RequestTimeout,
        TooManyRequests,
        Unavailable,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Token mode: accounts, sessions, tickets"),
        (name = "cookie", description = "Cookie mode, with CSRF double submit"),
        (name = "ws", description = "WebSocket handshakes"),
        (name = "meta", description = "The demo page, health, public keys, this document"),
        (name = "ops", description = "Readiness and metrics"),
        (name = "admin", description = "Accounts for operators, behind the admin API key"),
        (name = "channels", description = "Publishing to channels from a backend"),
    )
)]
struct ApiDoc;

/// The whole document: the frame above and every route's description.
pub(super) fn document() -> utoipa::openapi::OpenApi {
    let routes = super::resources();
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(routes.public)
        .merge(routes.internal)
        .into_openapi()
}

/// The document as served, built once.
pub(super) fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        // Serializing plain data with string keys does not fail; were it
        // to, an empty document is refused by every consumer at once.
        document().to_json().unwrap_or_default()
    });
    &JSON
}

/// The ways a request proves who sends it.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(description))
                    .build(),
            )
        };
        let schemes = [
            ("bearer", bearer("An access token from `/auth/login` or `/auth/refresh`.")),
            ("refresh_bearer", bearer("A refresh token from `/auth/login` or `/auth/refresh`.")),
            (
                "access_cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    "access_token_cookie",
                    "The access token cookie from `/auth/cookie/login` (`__Host-` prefixed \
                     with `cookie_host_prefix`). Unsafe methods also need `csrf`.",
                ))),
            ),
            (
                "refresh_cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    "refresh_token_cookie",
                    "The refresh token cookie (`__Host-` prefixed with `cookie_host_prefix`).",
                ))),
            ),
            (
                "csrf",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-CSRF-Token",
                    "The CSRF double-submit value: `csrf_access_token` (or, to refresh, \
                     `csrf_refresh_token`) from the cookie login; goes with a token cookie.",
                ))),
            ),
            (
                "query_token",
                SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                    "token",
                    "An access token in the WebSocket URL.",
                ))),
            ),
            (
                "ticket",
                SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                    "ticket",
                    "A one-time ticket from `POST /auth/ws-ticket`, valid 30 s.",
                ))),
            ),
            (
                "ws_csrf",
                SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                    "csrf_token",
                    "The `csrf_access_token` that goes with the access cookie on a WebSocket \
                     handshake (which also needs an allowed `Origin`).",
                ))),
            ),
            (
                "admin_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("The configured `admin_api_key`."))
                        .build(),
                ),
            ),
            (
                "publish_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("The configured `publish_api_key`."))
                        .build(),
                ),
            ),
        ];
        for (name, scheme) in schemes {
            components.add_security_scheme(name, scheme);
        }
    }
}

/// A response with the error body, and these headers.
fn error_response(description: &str, headers: &[(&str, &str, Type)]) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    let mut response =
        ResponseBuilder::new().description(description).content("application/json", content);
    for (name, description, kind) in headers {
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(kind.clone()).build()))
            .description(Some(*description))
            .build();
        response = response.header(*name, header);
    }
    response.into()
}

const RETRY_AFTER: (&str, &str, Type) =
    ("Retry-After", "Seconds to wait before retrying.", Type::Integer);

/// Declares a shared error response (a component the operations name).
macro_rules! error_response {
    ($name:ident, $description:expr $(, $header:expr)* $(,)?) => {
        #[doc = $description]
        pub(super) enum $name {}

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_response($description, &[$($header),*]))
            }
        }
    };
}

error_response!(
    BadRequest,
    "The request is malformed: `bad_request` (a body that is not the expected JSON, \
     too large, or the wrong content type), `conflicting_credentials` (two credentials \
     that disagree), `bad_handshake`."
);
error_response!(
    Unauthorized,
    "No valid credential: `missing_token`, `invalid_token`, `token_expired`, \
     `token_revoked`, `key_retired`, `wrong_token_type`, `fresh_token_required`, `invalid_ticket`.",
    ("WWW-Authenticate", "`Bearer error=\"invalid_token\"`", Type::String),
);
error_response!(
    Forbidden,
    "`csrf_failed`: a token cookie without its matching `X-CSRF-Token`; \
     `origin_not_allowed`; `account_disabled`."
);
error_response!(NotFound, "`not_found`: the feature behind the route is switched off.");
error_response!(
    RequestTimeout,
    "`request_timeout`: the body did not arrive within `body_read_timeout`; \
     the connection is then closed."
);
error_response!(
    TooManyRequests,
    "`too_many_requests`: a rate or count limit; `Retry-After` says when to retry.",
    RETRY_AFTER,
);
error_response!(
    Unavailable,
    "`unavailable`: a backend failed and nothing was changed; or `overloaded` \
     (password checks only): too many are waiting, with `Retry-After`.",
    RETRY_AFTER,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::Path;

    /// Ways to add a route that bypass `routes!` (and so the description):
    /// axum's router methods and its method routers (`get(handler)`).
    /// Spelled in pieces, so that this file does not contain them itself.
    fn bypasses() -> Vec<String> {
        let methods = [
            "route",
            "route_service",
            "nest",
            "nest_service",
            "fallback",
            "fallback_service",
            "method_not_allowed_fallback",
        ];
        let mut needles: Vec<String> = methods.iter().map(|m| format!(".{m}(")).collect();
        needles.push(["axum", "::routing"].concat());
        needles
    }

    fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("read the source directory");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The routes must be the document's single source: a route added with
    /// axum's own methods (on a `Router` or, passed through, on an
    /// `OpenApiRouter`) would be served without a description.
    #[test]
    fn every_route_is_registered_with_its_description() {
        let mut files = Vec::new();
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        assert!(files.len() > 10, "found the sources: {files:?}");
        let needles = bypasses();
        let mut offenders = Vec::new();
        // Proxied routes take their paths from the configuration, so the
        // static document cannot list them (docs/front-door.md does).
        let configured = Path::new("src").join("proxy").join("mod.rs");
        for file in files.iter().filter(|f| !f.ends_with(&configured)) {
            let text = std::fs::read_to_string(file).expect("read a source file");
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if needles.iter().any(|needle| code.contains(needle.as_str())) {
                    offenders.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "routes added without a description; register them with \
             `OpenApiRouter::routes(routes!(handler))` and a `#[utoipa::path]`:\n{}",
            offenders.join("\n")
        );
    }

    fn document_value() -> Value {
        serde_json::from_str(document_json()).expect("the document is JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_resource() {
        let doc = document_value();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/auth/register",
            "/auth/cookie/login",
            "/",
            "/openapi.json",
            "/readyz",
            "/metrics",
            "/admin/users/{username}",
            "/ws",
            "/ws/deferred",
        ] {
            assert!(paths.contains_key(path), "{path} is described");
        }
        let schemes = doc["components"]["securitySchemes"].as_object().expect("schemes");
        for scheme in ["bearer", "access_cookie", "csrf", "admin_key"] {
            assert!(schemes.contains_key(scheme), "{scheme}");
        }
    }

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_operation_is_described() {
        let doc = document_value();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{target} resolves");
        }
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let name = format!("{} {path}", method.to_uppercase());
                assert!(operation["summary"].is_string(), "{name} has a summary");
                assert!(operation["tags"].is_array(), "{name} has a tag");
                let responses = operation["responses"].as_object().expect("responses");
                assert!(!responses.is_empty(), "{name} has responses");
                // An operation that takes a credential says how it is refused.
                if operation.get("security").is_some() && path != "/ws" {
                    assert!(responses.contains_key("401"), "{name} documents 401");
                }
            }
        }
    }
}
