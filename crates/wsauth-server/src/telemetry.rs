//! Logs through tracing. No token, ticket, cookie or CSRF value ever appears:
//! query values are redacted and credential-bearing headers are marked
//! sensitive (and never logged).

use axum::http::{HeaderName, Request, header};
use std::sync::Arc;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;

/// How log lines are written (`log_format`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text (colour only on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber with `filter` (EnvFilter syntax), writing
/// `format` lines to stderr; colour only when stderr is a terminal and
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(colour_wanted()).try_init(),
    };
}

/// Whether text logs may be coloured: stderr is a terminal and `NO_COLOR`
/// is unset or empty, the rule clap's own help follows.
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// Headers that carry credentials.
pub fn sensitive_request_headers() -> SetSensitiveRequestHeadersLayer {
    let names: Arc<[HeaderName]> = Arc::new([
        header::AUTHORIZATION,
        header::COOKIE,
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderName::from_static("x-csrf-token"),
        // Forward auth: the original URI's query may hold a token or ticket.
        wsauth::forward::X_ORIGINAL_URI,
        wsauth::forward::X_FORWARDED_URI,
    ]);
    SetSensitiveRequestHeadersLayer::from_shared(names)
}

/// Response headers that carry credentials.
pub fn sensitive_response_headers() -> SetSensitiveResponseHeadersLayer {
    SetSensitiveResponseHeadersLayer::new([header::SET_COOKIE])
}

/// The query string with every value replaced: `token=[redacted]&x=[redacted]`.
pub fn redact_query(query: Option<&str>) -> String {
    let Some(query) = query else {
        return String::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            // A key is shown only when it looks like a parameter name, so a
            // token pasted as a bare key is never written out.
            let plain = (1..=32).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if plain { format!("{key}=[redacted]") } else { "[redacted]".to_owned() }
        })
        .take(16)
        .collect::<Vec<_>>()
        .join("&")
}

/// An access log with method, path, redacted query, status and latency.
pub fn access_log<B>() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<B>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(|req: &Request<B>| {
            tracing::info_span!(
                "http",
                method = %req.method(),
                path = %req.uri().path(),
                query = %redact_query(req.uri().query()),
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn every_query_value_is_redacted() {
        let q = redact_query(Some("token=eyJabc.def.ghi&csrf_token=xyz&ticket=t"));
        assert_eq!(q, "token=[redacted]&csrf_token=[redacted]&ticket=[redacted]");
        let bare = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        assert_eq!(redact_query(Some(bare)), "[redacted]");
        assert_eq!(redact_query(None), "");
    }
}
