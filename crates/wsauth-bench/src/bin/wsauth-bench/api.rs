//! The wsauth HTTP API calls the benchmarks need: register, login (bearer and
//! cookie), WebSocket tickets, logout and the admin API.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, SET_COOKIE};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// An HTTP client for one server; connections are kept alive and reused.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct LoginBody {
    access_token: String,
    refresh_token: String,
}

#[derive(Deserialize)]
struct CookieLoginBody {
    csrf_access_token: String,
}

#[derive(Deserialize)]
struct TicketBody {
    ticket: String,
}

impl Api {
    pub(crate) fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(timeout)
            .no_proxy()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { client, base: base.to_owned() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a user; an existing user (409) is fine.
    pub(crate) async fn register(&self, username: &str, password: &str) -> anyhow::Result<()> {
        let resp = self
            .client
            .post(self.url("/auth/register"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .context("POST /auth/register failed")?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            s => bail!("POST /auth/register answered {s}"),
        }
    }

    /// Logs in; returns the access token.
    pub(crate) async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        Ok(self.login_pair(username, password).await?.0)
    }

    /// Logs in; returns the access and the refresh token.
    pub(crate) async fn login_pair(
        &self,
        username: &str,
        password: &str,
    ) -> anyhow::Result<(String, String)> {
        let resp = self
            .client
            .post(self.url("/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .context("POST /auth/login failed")?;
        if !resp.status().is_success() {
            bail!("POST /auth/login answered {}", resp.status());
        }
        let body: LoginBody = resp.json().await.context("bad /auth/login body")?;
        Ok((body.access_token, body.refresh_token))
    }

    /// Rotates a refresh token; returns the new access and refresh token.
    pub(crate) async fn refresh(&self, refresh: &str) -> anyhow::Result<(String, String)> {
        let resp = self
            .client
            .post(self.url("/auth/refresh"))
            .header(AUTHORIZATION, format!("Bearer {refresh}"))
            .send()
            .await
            .context("POST /auth/refresh failed")?;
        if !resp.status().is_success() {
            bail!("POST /auth/refresh answered {}", resp.status());
        }
        let body: LoginBody = resp.json().await.context("bad /auth/refresh body")?;
        Ok((body.access_token, body.refresh_token))
    }

    /// Logs in with cookies; returns the access cookie's value and the CSRF value.
    pub(crate) async fn cookie_login(
        &self,
        username: &str,
        password: &str,
    ) -> anyhow::Result<(String, String)> {
        let resp = self
            .client
            .post(self.url("/auth/cookie/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .context("POST /auth/cookie/login failed")?;
        if !resp.status().is_success() {
            bail!("POST /auth/cookie/login answered {}", resp.status());
        }
        let cookie = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim() == "access_token_cookie")
            .map(|(_, value)| value.trim().to_owned())
            .context("no access_token_cookie in the cookie login response")?;
        let body: CookieLoginBody = resp.json().await.context("bad /auth/cookie/login body")?;
        Ok((cookie, body.csrf_access_token))
    }

    /// Obtains a one-time WebSocket ticket with a bearer access token. The
    /// error is a short failure kind for reports.
    pub(crate) async fn ws_ticket(&self, token: &str) -> Result<String, String> {
        let resp = self
            .client
            .post(self.url("/auth/ws-ticket"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "ticket_timeout".to_owned()
                } else {
                    "ticket_transport".to_owned()
                }
            })?;
        if !resp.status().is_success() {
            return Err(format!("ticket_http_{}", resp.status().as_u16()));
        }
        let body: TicketBody = resp.json().await.map_err(|_| "ticket_body".to_owned())?;
        Ok(body.ticket)
    }

    /// Logs out the login a bearer access token belongs to; returns the status.
    pub(crate) async fn logout(&self, token: &str) -> anyhow::Result<StatusCode> {
        self.post_bearer("/auth/logout", token).await
    }

    /// An admin API call (`method path`, JSON `body` if any) with the admin
    /// key; returns the status and the JSON answer (null when there is none).
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(StatusCode, serde_json::Value)> {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.with_context(|| format!("{path} failed"))?;
        let status = resp.status();
        let answer = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, answer))
    }

    /// `POST path` with a bearer token and no body; returns the status.
    pub(crate) async fn post_bearer(&self, path: &str, token: &str) -> anyhow::Result<StatusCode> {
        let resp = self
            .client
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .with_context(|| format!("POST {path} failed"))?;
        Ok(resp.status())
    }

    /// `POST path` with a username and password (login, register); returns the status.
    pub(crate) async fn post_credentials(
        &self,
        path: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<StatusCode> {
        let resp = self
            .client
            .post(self.url(path))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .with_context(|| format!("POST {path} failed"))?;
        Ok(resp.status())
    }

    /// The value of an unlabelled sample in `GET /metrics`, such as
    /// `wsauth_live_sockets`.
    pub(crate) async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self.client.get(self.url("/metrics")).send().await?.text().await?;
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .find(|(series, _)| *series == name)
            .and_then(|(_, value)| value.trim().parse().ok())
            .with_context(|| format!("no {name} in /metrics"))
    }

    /// `GET /healthz`: whether the server answers 200.
    pub(crate) async fn healthy(&self) -> bool {
        let resp = self.client.get(self.url("/healthz")).send().await;
        resp.is_ok_and(|r| r.status().is_success())
    }
}
