//! The upstream hop: the request the upstream receives (identity added,
//! the client's credential and spoofed identity removed) and opening it.

use axum::http::Uri;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wsauth::forward::IdentityHeaders;
use wsauth::{Claims, CredentialNames, SocketLimits};

use super::forwarding::Hop;
use super::headers::{app_subprotocols, copy_client_headers, forwarded_cookies};
use super::io::UpstreamIo;
use super::settings::{IdentityHeader, ProxyRoute, load_roots};

/// An open upstream socket.
pub(crate) type UpstreamSocket = WebSocketStream<UpstreamIo>;

/// The query parameter a client names its socket with, for out-of-band
/// refresh (`POST /auth/proxy/refresh`). Never forwarded.
pub(crate) const HANDLE_QUERY: &str = "wsauth_handle";

/// One configured upstream, ready to be dialled.
pub(crate) struct Upstream {
    uri: Uri,
    /// `None`: plain `ws://`.
    tls: Option<TlsConnector>,
    connect_timeout: Duration,
    config: WebSocketConfig,
    identity: Vec<IdentityHeader>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("uri", &self.uri).finish_non_exhaustive()
    }
}

/// Why the upstream socket could not be opened: the client gets 502.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection, TLS failure, or no answer within the connect timeout.
    #[error("the upstream cannot be reached")]
    Unreachable,
    /// The upstream answered the handshake with something other than 101.
    #[error("the upstream refused the WebSocket handshake")]
    Refused,
}

impl Upstream {
    /// Prepares `route` (already validated), with the hop's buffer and
    /// message limits: the upstream is held to the same bounds as clients.
    pub(crate) fn new(route: &ProxyRoute, limits: &SocketLimits) -> Result<Self, String> {
        let uri = route.upstream_uri()?;
        let tls = match (&route.ca_file, uri.scheme_str()) {
            (Some(file), _) => Some(client_config(load_roots(file)?)?),
            (None, Some("wss")) => Some(client_config(public_roots())?),
            _ => None,
        }
        .map(|config| TlsConnector::from(Arc::new(config)));
        let config = WebSocketConfig::default()
            // The upstream stream does not read ahead: each read takes at
            // least the library's default from the kernel.
            .read_buffer_size(limits.read_buffer_size.max(SocketLimits::default().read_buffer_size))
            .write_buffer_size(limits.write_buffer_size)
            .max_write_buffer_size(limits.max_write_buffer_size)
            .max_message_size(Some(limits.max_message_size))
            .max_frame_size(Some(limits.max_frame_size));
        Ok(Self {
            uri,
            tls,
            connect_timeout: Duration::from_secs(route.connect_timeout),
            config,
            identity: route.identity_headers.clone(),
        })
    }

    /// The upstream's address for logs: scheme, host and path, no query.
    pub(crate) fn display(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("ws");
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        format!("{scheme}://{authority}{}", self.uri.path())
    }

    /// Opens the upstream socket within the connect timeout; returns it and
    /// the subprotocol the upstream chose (one the client offered).
    pub(crate) async fn open(
        &self,
        request: UpstreamRequest<'_>,
    ) -> Result<(UpstreamSocket, Option<HeaderValue>), UpstreamError> {
        let request = self.request(request).map_err(|_| UpstreamError::Unreachable)?;
        let connect = async {
            let io = self.connect().await.map_err(tokio_tungstenite::tungstenite::Error::Io)?;
            tokio_tungstenite::client_async_with_config(request, io, Some(self.config)).await
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok((socket, response))) => {
                let chosen = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL).cloned();
                Ok((socket, chosen))
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                tracing::warn!(upstream = %self.display(), status = %response.status(), "upstream refused a proxied handshake");
                Err(UpstreamError::Refused)
            }
            Ok(Err(e)) => {
                tracing::warn!(upstream = %self.display(), error = %e, "upstream unreachable");
                Err(UpstreamError::Unreachable)
            }
            Err(_) => {
                tracing::warn!(upstream = %self.display(), "upstream did not answer within connect_timeout");
                Err(UpstreamError::Unreachable)
            }
        }
    }

    /// A TCP connection to the upstream (no delay on small writes), with
    /// TLS for `wss://`.
    async fn connect(&self) -> std::io::Result<UpstreamIo> {
        let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let host = self.uri.host().ok_or_else(|| invalid("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        let tcp = TcpStream::connect((host, self.uri.port_u16().unwrap_or(default_port))).await?;
        tcp.set_nodelay(true)?;
        let Some(tls) = &self.tls else { return Ok(UpstreamIo::Plain(tcp)) };
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| invalid("not a TLS server name"))?;
        Ok(UpstreamIo::Tls(Box::new(tls.connect(name, tcp).await?)))
    }

    /// The handshake request the upstream receives.
    fn request(
        &self,
        input: UpstreamRequest<'_>,
    ) -> Result<axum::http::Request<()>, Box<dyn std::error::Error>> {
        let uri = with_query(&self.uri, &forwarded_query(input.query, input.names))?;
        let mut request = uri.into_client_request()?;
        let headers = request.headers_mut();
        copy_client_headers(input.headers, headers, input.names);
        if let Some(cookie) = forwarded_cookies(input.headers, input.names) {
            headers.insert(header::COOKIE, cookie);
        }
        input.hop.write(headers);
        let protocols = app_subprotocols(input.headers, &input.names.subprotocol);
        if !protocols.is_empty() {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(&protocols)?);
        }
        if let Some(claims) = input.claims {
            // Forward auth's encoding: the subject percent-encoded where it
            // is not visible ASCII, so any subject makes a header.
            let identity = IdentityHeaders::for_claims(claims)?;
            for wanted in &self.identity {
                let value = match wanted {
                    IdentityHeader::Sub => identity.sub.clone(),
                    IdentityHeader::Claims => identity.claims.clone(),
                };
                headers.insert(HeaderName::from_static(wanted.name()), value);
            }
        }
        Ok(request)
    }
}

/// What the upstream request is made from.
pub(crate) struct UpstreamRequest<'a> {
    /// The client's handshake headers.
    pub(crate) headers: &'a HeaderMap,
    /// The client's query string.
    pub(crate) query: Option<&'a str>,
    /// The verified claims; `None` on an optional route without a credential.
    pub(crate) claims: Option<&'a Claims>,
    /// Where credentials travel (query parameters, cookies, subprotocol).
    pub(crate) names: &'a CredentialNames,
    /// The hop the handshake came over: what the forwarding headers say.
    pub(crate) hop: &'a Hop,
}

/// The client's query without the credential parameters and the handle.
fn forwarded_query(query: Option<&str>, names: &CredentialNames) -> String {
    let dropped =
        [names.token_query.as_str(), &names.ticket_query, &names.csrf_query, HANDLE_QUERY];
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !dropped.contains(&key.as_ref()) {
            out.append_pair(&key, &value);
        }
    }
    out.finish()
}

/// `base` with `extra` appended to its own query.
fn with_query(base: &Uri, extra: &str) -> Result<Uri, axum::http::Error> {
    let path = base.path();
    let query = match (base.query(), extra.is_empty()) {
        (Some(own), false) => format!("?{own}&{extra}"),
        (Some(own), true) => format!("?{own}"),
        (None, false) => format!("?{extra}"),
        (None, true) => String::new(),
    };
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(format!("{path}{query}").parse()?);
    Ok(Uri::from_parts(parts)?)
}

/// The public web's roots, for a `wss://` upstream without `ca_file`.
fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_parameters_and_the_handle_never_reach_the_upstream() {
        let names = CredentialNames::default();
        let query = "room=1&token=eyJ&%74oken=eyJ2&ticket=T&csrf_token=C&wsauth_handle=H&b=a%20b";
        assert_eq!(forwarded_query(Some(query), &names), "room=1&b=a+b");
        assert_eq!(forwarded_query(None, &names), "");
    }

    #[test]
    fn the_client_query_joins_the_upstreams_own() {
        let base: Uri = "ws://h:1/ws?fixed=1".parse().expect("uri");
        assert_eq!(
            with_query(&base, "a=2").expect("joined").to_string(),
            "ws://h:1/ws?fixed=1&a=2"
        );
        let bare: Uri = "ws://h:1/ws".parse().expect("uri");
        assert_eq!(with_query(&bare, "").expect("same").to_string(), "ws://h:1/ws");
    }
}
