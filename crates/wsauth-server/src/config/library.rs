//! What the wsauth library is built with: the one mapping from the
//! configuration to its builder, used by the application (`app.rs`) and by
//! the `server_config` fuzz target alike, so that neither can miss a
//! setting the other applies.

use wsauth::{HandshakeRate, TokenAuthority, TrustedProxies, WsAuth, WsAuthBuilder};

use super::Config;

impl Config {
    /// The library's builder for `tokens` with every setting the
    /// configuration decides: credential names, origins (the server's own
    /// on `port` by default), tickets, socket limits and timers, the
    /// handshake rate, trusted proxies and trusted issuers. What the
    /// running server adds (stores, an observer) is the caller's.
    ///
    /// Fails on a trusted issuer that cannot be used (the server's own
    /// `issuer`, a bad key source).
    pub fn auth_builder(&self, tokens: TokenAuthority, port: u16) -> anyhow::Result<WsAuthBuilder> {
        let limits = &self.limits;
        let issuers = crate::trusted_issuers::build(&self.trusted_issuers, self.issuer.as_deref())?;
        Ok(WsAuth::builder(tokens)
            .names(self.credential_names())
            .allowed_origins(self.allowed_origins_on(port))
            .ticket_ttl_secs(self.ticket_ttl)
            .max_tickets_per_subject(limits.max_tickets_per_user)
            .socket_limits(limits.socket_limits())
            .live_config(limits.live_config())
            .handshake_rate(HandshakeRate {
                per_second: limits.handshake_rate,
                burst: limits.handshake_burst,
            })
            .trusted_proxies(TrustedProxies::new(self.trusted_proxies.iter().copied()))
            .trusted_issuers(issuers))
    }
}
