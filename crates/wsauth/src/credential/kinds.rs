//! What a credential is and where it may travel: [`CredentialKind`],
//! [`CredentialNames`] and [`Transports`].

/// Where a credential travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// `Authorization: Bearer <JWT>`.
    Header,
    /// The token cookie plus its CSRF double-submit value.
    Cookie,
    /// `?token=<JWT>` on the WebSocket URL.
    Query,
    /// `Sec-WebSocket-Protocol: wsauth, bearer.<JWT>`.
    Subprotocol,
    /// `?ticket=<one-time ticket>`.
    Ticket,
    /// The first frame after the upgrade (first-message mode).
    FirstMessage,
}

impl CredentialKind {
    /// A short name for logs and frames.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Cookie => "cookie",
            Self::Query => "query",
            Self::Subprotocol => "subprotocol",
            Self::Ticket => "ticket",
            Self::FirstMessage => "first_message",
        }
    }
}

/// The names credentials travel under. Defaults are fastapi-jwt-auth's.
#[derive(Debug, Clone)]
pub struct CredentialNames {
    /// Access token cookie. Default `access_token_cookie`.
    pub access_cookie: String,
    /// Refresh token cookie. Default `refresh_token_cookie`.
    pub refresh_cookie: String,
    /// Script-readable CSRF cookie for the access token. Default `csrf_access_token`.
    pub access_csrf_cookie: String,
    /// Script-readable CSRF cookie for the refresh token. Default `csrf_refresh_token`.
    pub refresh_csrf_cookie: String,
    /// CSRF header on HTTP. Default `X-CSRF-Token`.
    pub csrf_header: String,
    /// CSRF query parameter on a WebSocket. Default `csrf_token`.
    pub csrf_query: String,
    /// Token query parameter on a WebSocket. Default `token`.
    pub token_query: String,
    /// Ticket query parameter on a WebSocket. Default `ticket`.
    pub ticket_query: String,
    /// The subprotocol the server selects when a client offers a bearer
    /// entry. Default `wsauth`.
    pub subprotocol: String,
}

impl Default for CredentialNames {
    fn default() -> Self {
        Self {
            access_cookie: "access_token_cookie".into(),
            refresh_cookie: "refresh_token_cookie".into(),
            access_csrf_cookie: "csrf_access_token".into(),
            refresh_csrf_cookie: "csrf_refresh_token".into(),
            csrf_header: "X-CSRF-Token".into(),
            csrf_query: "csrf_token".into(),
            token_query: "token".into(),
            ticket_query: "ticket".into(),
            subprotocol: "wsauth".into(),
        }
    }
}

/// Which transports are accepted. By default all are, each where it makes sense
/// (query, subprotocol and ticket only on WebSocket handshakes).
#[derive(Debug, Clone, Copy)]
pub struct Transports {
    /// `Authorization: Bearer`. Default on.
    pub header: bool,
    /// Cookie + CSRF. Default on.
    pub cookie: bool,
    /// `?token=` on WebSocket handshakes. Default on.
    pub query: bool,
    /// `bearer.<JWT>` subprotocol on WebSocket handshakes. Default on.
    pub subprotocol: bool,
    /// `?ticket=` on WebSocket handshakes. Default on.
    pub ticket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self { header: true, cookie: true, query: true, subprotocol: true, ticket: true }
    }
}
