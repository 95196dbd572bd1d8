//! Where a trusted issuer's keys come from: [`KeySource`], the one thing the
//! key cache asks, with [`StaticJwks`] (a document held in memory) always
//! available and `HttpKeySource` behind the `jwks`
//! feature.

use std::fmt::Debug;

/// A JWKS document as fetched, with how long its publisher says it may be
/// cached.
#[derive(Debug, Clone)]
pub struct FetchedJwks {
    /// The document's bytes (a JSON object with a `keys` array).
    pub body: Vec<u8>,
    /// `Cache-Control: max-age`, seconds, when the response carried one
    /// (`no-store` and `no-cache` count as 0). The cache clamps it to its
    /// bounds.
    pub max_age: Option<u64>,
}

/// Why keys could not be fetched. Every variant is a fault of the
/// provider or the path to it: tokens then fail closed with `503
/// unavailable` unless cached keys are still within their bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not allowed: not HTTPS (plain HTTP only for loopback
    /// addresses), or a redirect to another host.
    #[error("URL not allowed: {0}")]
    UrlNotAllowed(String),
    /// The connection or the request failed, or took too long.
    #[error("request failed: {0}")]
    Request(String),
    /// The provider answered with another status than 200.
    #[error("provider answered HTTP {0}")]
    Status(u16),
    /// The response is larger than the configured cap.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The document is not what was expected (malformed JSON, a discovery
    /// document naming another issuer, a JWKS without one usable key).
    #[error("invalid document: {0}")]
    Invalid(String),
}

/// A source of one issuer's JWKS document. Implement it to fetch keys some
/// other way than HTTPS (a file, a sidecar); the cache decides when to ask,
/// so an implementation only fetches.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync + Debug + 'static {
    /// Fetches the document once.
    async fn fetch(&self) -> Result<FetchedJwks, FetchError>;
}

/// A JWKS document held in memory: for issuers whose keys are known in
/// advance, and for tests.
#[derive(Debug, Clone)]
pub struct StaticJwks {
    body: Vec<u8>,
}

impl StaticJwks {
    /// A source that always answers with `document` (a JWKS as JSON).
    #[must_use]
    pub fn new(document: impl Into<Vec<u8>>) -> Self {
        Self { body: document.into() }
    }
}

#[async_trait::async_trait]
impl KeySource for StaticJwks {
    async fn fetch(&self) -> Result<FetchedJwks, FetchError> {
        Ok(FetchedJwks { body: self.body.clone(), max_age: None })
    }
}
