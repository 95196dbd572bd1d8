//! The application's backend as a source of channel rights
//! (`[channels] authorizer_url`): asked, one action at a time, for what the
//! rules and grants did not grant. It answers `{"allow": bool, "ttl":
//! seconds}`; the answer is kept for `ttl` (bounded cache), and a live
//! subscription it allowed is asked about again when that runs out. No
//! answer in time, an error status or a malformed body refuses
//! (`unavailable`): channels fail closed.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wsauth::channels::{Action, Actions, Channel, ChannelAuthorizer, Decision, Unavailable, Who};

use crate::config::ChannelSettings;

/// The largest answer read, in bytes.
const MAX_ANSWER: usize = 4096;
/// Questions in flight at once; more wait (within the timeout).
const MAX_IN_FLIGHT: usize = 64;
/// Answers kept; past it, expired ones are dropped, then all.
const MAX_CACHED: usize = 10_000;
/// An answer without `ttl` is kept this long.
const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// The longest an answer is kept, whatever its `ttl`.
const MAX_TTL: Duration = Duration::from_secs(86_400);

/// What the authorizer is asked.
#[derive(Serialize)]
struct Question<'a> {
    sub: &'a str,
    issuer: Option<&'a str>,
    subject: &'a str,
    channel_sub: &'a str,
    roles: &'a [String],
    channel: &'a str,
    action: Action,
}

/// What it answers.
#[derive(Deserialize)]
struct Answer {
    allow: bool,
    #[serde(default)]
    ttl: Option<f64>,
}

type CacheKey = (Arc<str>, Arc<str>, Action);

/// The application's backend, asked over HTTP.
pub(crate) struct HttpAuthorizer {
    client: reqwest::Client,
    url: String,
    secret: Option<String>,
    timeout: Duration,
    in_flight: Semaphore,
    cache: Mutex<HashMap<CacheKey, (bool, Instant)>>,
}

impl std::fmt::Debug for HttpAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuthorizer").field("url", &self.url).finish_non_exhaustive()
    }
}

impl HttpAuthorizer {
    /// The authorizer `settings` name, if any.
    pub(crate) fn from_settings(settings: &ChannelSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.authorizer_url else { return Ok(None) };
        let timeout = Duration::from_secs_f64(settings.authorizer_timeout);
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()?;
        Ok(Some(Self {
            client,
            url: url.clone(),
            secret: settings.authorizer_secret.clone(),
            timeout,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            cache: Mutex::new(HashMap::new()),
        }))
    }

    fn cached(&self, key: &CacheKey, now: Instant) -> Option<(bool, Duration)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (allow, until) = cache.get(key)?;
        (*until > now).then(|| (*allow, *until - now))
    }

    fn remember(&self, key: CacheKey, allow: bool, ttl: Duration) {
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, (allow, now + ttl));
    }

    /// Asks about one action; `(allow, ttl)`.
    async fn ask(
        &self,
        who: &Who,
        channel: &Channel,
        action: Action,
    ) -> Result<(bool, Duration), Unavailable> {
        let _permit = tokio::time::timeout(self.timeout, self.in_flight.acquire())
            .await
            .map_err(|_| Unavailable)?
            .map_err(|_| Unavailable)?;
        let question = Question {
            sub: &who.sub,
            issuer: who.issuer.as_deref(),
            subject: &who.subject,
            channel_sub: &who.channel_sub,
            roles: &who.roles,
            channel: channel.as_str(),
            action,
        };
        let mut request = self.client.post(&self.url).json(&question);
        if let Some(secret) = &self.secret {
            request = request.bearer_auth(secret);
        }
        let refused = |why: &str| {
            tracing::warn!(url = %self.url, channel = %channel, why, "channel authorizer did not answer; refusing");
            Unavailable
        };
        let mut response = request.send().await.map_err(|e| {
            refused(if e.is_timeout() { "no answer in time" } else { "cannot be reached" })
        })?;
        if !response.status().is_success() {
            return Err(refused("answered with an error status"));
        }
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|_| refused("the answer broke off"))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(refused("the answer is larger than 4 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| refused("the answer is not {\"allow\": bool, \"ttl\": seconds}"))?;
        let ttl = match answer.ttl {
            None => DEFAULT_TTL,
            Some(secs) if secs.is_finite() && secs >= 0.0 => {
                Duration::from_secs_f64(secs.min(MAX_TTL.as_secs_f64()))
            }
            Some(_) => return Err(refused("ttl is not a number of seconds")),
        };
        Ok((answer.allow, ttl))
    }
}

#[async_trait]
impl ChannelAuthorizer for HttpAuthorizer {
    async fn authorize(
        &self,
        who: &Who,
        channel: &Channel,
        wanted: Actions,
    ) -> Result<Decision, Unavailable> {
        let mut decision = Decision::default();
        for action in wanted.iter() {
            let key: CacheKey =
                (Arc::from(who.channel_sub.as_str()), Arc::from(channel.as_str()), action);
            let (allow, ttl) = match self.cached(&key, Instant::now()) {
                Some(known) => known,
                None => {
                    let (allow, ttl) = self.ask(who, channel, action).await?;
                    self.remember(key, allow, ttl);
                    (allow, ttl)
                }
            };
            if allow {
                decision.granted = decision.granted.union(action.into());
                decision.ttl = Some(decision.ttl.map_or(ttl, |t| t.min(ttl)));
            }
        }
        Ok(decision)
    }
}
