//! Fetching a trusted issuer's keys over HTTPS (the `jwks` feature):
//! HTTPS only, except plain HTTP to loopback addresses; connect and total
//! timeouts; a cap on the response size; redirects only to the same host;
//! no proxy from the environment; the operating system's trust store
//! (rustls with aws-lc-rs); no user name or password in a URL. OpenID
//! discovery reads `jwks_uri` from
//! `<issuer>/.well-known/openid-configuration`, whose `issuer` must equal
//! the configured one and whose `jwks_uri` must have the document's own
//! scheme, host and port.

use reqwest::Url;
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::source::{FetchError, FetchedJwks, KeySource};
use crate::strict_json;

/// Where an issuer's JWKS is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksLocation {
    /// This URL, from configuration.
    Url(String),
    /// The `jwks_uri` of the issuer's OpenID discovery document.
    Discovery,
}

/// Bounds on every request for keys. Every field documents its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpFetchSettings {
    /// Connecting (TCP and TLS) may take this long. Default 2 s.
    pub connect_timeout: Duration,
    /// The whole request, body included, may take this long. Default 5 s.
    pub timeout: Duration,
    /// The largest response body read, bytes. Default 256 KiB.
    pub max_response_bytes: usize,
}

impl Default for HttpFetchSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
        }
    }
}

/// The most redirects followed (each to the same host).
const MAX_REDIRECTS: usize = 3;

/// A [`KeySource`] that fetches an issuer's JWKS over HTTPS.
#[derive(Debug)]
pub struct HttpKeySource {
    issuer: String,
    location: JwksLocation,
    settings: HttpFetchSettings,
    client: reqwest::Client,
    /// The `jwks_uri` discovery found, until a fetch from it fails.
    discovered: Mutex<Option<Url>>,
}

impl HttpKeySource {
    /// A source for `issuer`'s keys at `location`. Fails when the URL (or,
    /// for discovery, the issuer) is not HTTPS or loopback HTTP.
    pub fn new(
        issuer: &str,
        location: JwksLocation,
        settings: HttpFetchSettings,
    ) -> Result<Self, FetchError> {
        match &location {
            JwksLocation::Url(url) => drop(allowed_url(url)?),
            JwksLocation::Discovery => drop(allowed_url(&discovery_url(issuer))?),
        }
        crate::crypto::ensure_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_host = attempt.previous().first().is_some_and(|first| {
                    first.host_str() == attempt.url().host_str()
                        && first.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if !same_host || check_scheme(attempt.url()).is_err() {
                    attempt.error("redirect to another host or scheme")
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("wsauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Request(e.to_string()))?;
        Ok(Self {
            issuer: issuer.to_owned(),
            location,
            settings,
            client,
            discovered: Mutex::new(None),
        })
    }

    async fn get(&self, url: Url) -> Result<(Vec<u8>, Option<u64>), FetchError> {
        let mut response = self
            .client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Request(without_url(e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let cap = self.settings.max_response_bytes;
        if response.content_length().is_some_and(|len| len > cap as u64) {
            return Err(FetchError::TooLarge(cap));
        }
        let max_age =
            response.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| FetchError::Request(without_url(e)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }

    async fn jwks_url(&self) -> Result<Url, FetchError> {
        match &self.location {
            JwksLocation::Url(url) => allowed_url(url),
            JwksLocation::Discovery => {
                if let Some(url) = self.lock().clone() {
                    return Ok(url);
                }
                let document = allowed_url(&discovery_url(&self.issuer))?;
                let (body, _) = self.get(document.clone()).await?;
                let doc = strict_json::parse_object(&body).ok_or_else(|| {
                    FetchError::Invalid("the discovery document is not a JSON object".into())
                })?;
                if doc.get("issuer").and_then(|v| v.as_str()) != Some(self.issuer.as_str()) {
                    return Err(FetchError::Invalid(
                        "the discovery document names another issuer".into(),
                    ));
                }
                let uri = doc.get("jwks_uri").and_then(|v| v.as_str()).ok_or_else(|| {
                    FetchError::Invalid("the discovery document has no jwks_uri".into())
                })?;
                let url = allowed_url(uri)?;
                if !same_origin(&url, &document) {
                    return Err(FetchError::Invalid(format!(
                        "the discovery document's jwks_uri {url} is not on its own origin \
                         {}; keys are fetched only from there (set jwks_url instead of \
                         discovery to name another place)",
                        document.origin().ascii_serialization()
                    )));
                }
                *self.lock() = Some(url.clone());
                Ok(url)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Url>> {
        self.discovered.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<FetchedJwks, FetchError> {
        let url = self.jwks_url().await?;
        match self.get(url).await {
            Ok((body, max_age)) => Ok(FetchedJwks { body, max_age }),
            Err(e) => {
                // Discover again next time: the provider may have moved its keys.
                *self.lock() = None;
                Err(e)
            }
        }
    }
}

/// `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 4).
fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Whether `a` and `b` have one scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Parses `url` and refuses anything but HTTPS or loopback HTTP.
fn allowed_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|error| {
        FetchError::UrlNotAllowed(format!(
            "{url:?} is not a URL ({error}); write https://HOST/PATH"
        ))
    })?;
    check_scheme(&parsed)?;
    Ok(parsed)
}

/// Refuses a URL with a user name or password (a JWKS is public: a
/// credential there would only leak into logs and to redirects), and any
/// scheme but HTTPS or loopback HTTP.
fn check_scheme(url: &Url) -> Result<(), FetchError> {
    if !url.username().is_empty() || url.password().is_some() {
        let mut shown = url.clone();
        // Setting them on an http(s) URL with a host cannot fail.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(FetchError::UrlNotAllowed(format!(
            "{shown} carries a user name or password (user:pass@); remove them: keys are \
             public and are fetched without credentials"
        )));
    }
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host.eq_ignore_ascii_case("localhost");
    match url.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        "https" => Err(FetchError::UrlNotAllowed(format!("{url} has no host"))),
        "http" => Err(FetchError::UrlNotAllowed(format!(
            "{url}: keys are fetched over https:// only; plain http:// is allowed for a loopback \
             address (127.0.0.1, [::1], localhost) alone"
        ))),
        other => Err(FetchError::UrlNotAllowed(format!(
            "{url}: the scheme {other}:// is not fetched; keys are fetched over https://"
        ))),
    }
}

/// `max-age` of a `Cache-Control` value; `no-store` and `no-cache` count as 0.
fn max_age(value: &str) -> Option<u64> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs.trim_matches('"').parse().ok();
        }
    }
    age
}

/// A request error's text without its URL (which is configuration, but
/// keeps log lines short).
fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect refused"
    } else {
        "failed"
    };
    format!("{kind}: {}", e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(allowed_url("https://idp.example/keys").is_ok());
        assert!(allowed_url("http://127.0.0.1:8080/keys").is_ok());
        assert!(allowed_url("http://[::1]/keys").is_ok());
        assert!(allowed_url("http://localhost/keys").is_ok());
        assert!(allowed_url("http://idp.example/keys").is_err());
        assert!(allowed_url("http://10.0.0.1/keys").is_err());
        assert!(allowed_url("file:///etc/passwd").is_err());
        assert!(allowed_url("ftp://idp.example/keys").is_err());
    }

    #[test]
    fn a_credential_in_the_url_is_refused_without_being_shown() {
        for url in ["https://user:secret-pw@idp.example/keys", "http://user@127.0.0.1/keys"] {
            let refused = allowed_url(url).unwrap_err().to_string();
            assert!(refused.contains("user name or password"), "{refused}");
            assert!(!refused.contains("secret-pw") && !refused.contains("user@"), "{refused}");
        }
    }

    #[test]
    fn same_origin_is_scheme_host_and_port() {
        let url = |u: &str| Url::parse(u).unwrap();
        let doc = url("https://idp.example/.well-known/openid-configuration");
        assert!(same_origin(&url("https://idp.example:443/keys"), &doc));
        for other in [
            "http://idp.example/keys",
            "https://idp.example:8443/keys",
            "https://keys.idp.example/keys",
        ] {
            assert!(!same_origin(&url(other), &doc), "{other}");
        }
    }

    /// Serves one canned response to every connection on 127.0.0.1; returns
    /// its base URL.
    async fn serve(response: String) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        base
    }

    fn source(url: &str, max_response_bytes: usize) -> HttpKeySource {
        let settings = HttpFetchSettings { max_response_bytes, ..HttpFetchSettings::default() };
        HttpKeySource::new("https://idp.example", JwksLocation::Url(url.to_owned()), settings)
            .unwrap()
    }

    #[tokio::test]
    async fn a_response_over_the_cap_is_refused() {
        let body = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(4096));
        let ok = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        let chunked = format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        for response in [ok, chunked] {
            let base = serve(response).await;
            assert_eq!(source(&base, 1024).fetch().await.unwrap_err(), FetchError::TooLarge(1024));
            assert!(source(&base, 64 * 1024).fetch().await.is_ok());
        }
    }

    #[tokio::test]
    async fn redirects_to_another_host_are_refused() {
        let target =
            serve("HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"keys\":[]}".into()).await;
        let port = target.rsplit(':').next().unwrap();
        let elsewhere = format!("http://localhost:{port}/jwks");
        let redirect =
            |to: &str| format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n");
        let base = serve(redirect(&elsewhere)).await;
        let refused =
            |e| matches!(e, Err(FetchError::Request(m)) if m.starts_with("redirect refused"));
        assert!(refused(source(&base, 1024).fetch().await));
        let same = serve(redirect(&format!("{target}/jwks"))).await;
        // Same address, another port: another origin, refused as well.
        assert!(refused(source(&same, 1024).fetch().await));
        assert!(source(&target, 1024).fetch().await.is_ok());
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(max_age("public, max-age=3600"), Some(3600));
        assert_eq!(max_age("max-age=60, must-revalidate"), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}
