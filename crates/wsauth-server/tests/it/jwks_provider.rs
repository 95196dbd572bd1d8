//! For the JWKS tests: an identity provider on loopback (a tiny HTTP server
//! serving an OpenID discovery document and a JWKS, counting requests, that
//! can be taken down), and tokens minted by PyJWT 2 (tests/jwks/mint.py in
//! its own virtualenv, made by tests/jwks/setup.sh).

use figment::providers::Format;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsauth_server::trusted_issuers::TrustedIssuerConfig;

/// A provider: its issuer URL is its base URL, so discovery finds it.
pub struct Provider {
    pub issuer: String,
    state: Arc<Mutex<Served>>,
    pub jwks_requests: Arc<AtomicUsize>,
    pub discovery_requests: Arc<AtomicUsize>,
}

struct Served {
    keys: Vec<Value>,
    up: bool,
    /// The discovery document's `jwks_uri`, when not `<issuer>/jwks`.
    jwks_uri: Option<String>,
}

impl Provider {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(Served { keys: Vec::new(), up: true, jwks_uri: None }));
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let discovery_requests = Arc::new(AtomicUsize::new(0));
        let (st, jr, dr, iss) =
            (state.clone(), jwks_requests.clone(), discovery_requests.clone(), issuer.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (st, jr, dr, iss) = (st.clone(), jr.clone(), dr.clone(), iss.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut len = 0;
                    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                        match stream.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => len += n,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..len]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let (status, body) = {
                        let served = st.lock().expect("lock");
                        match path.as_str() {
                            _ if !served.up => ("503 Service Unavailable", "{}".to_owned()),
                            "/.well-known/openid-configuration" => {
                                dr.fetch_add(1, Ordering::SeqCst);
                                let uri = served.jwks_uri.clone();
                                let uri = uri.unwrap_or_else(|| format!("{iss}/jwks"));
                                let doc = json!({"issuer": iss, "jwks_uri": uri});
                                ("200 OK", doc.to_string())
                            }
                            "/jwks" => {
                                jr.fetch_add(1, Ordering::SeqCst);
                                ("200 OK", json!({"keys": served.keys}).to_string())
                            }
                            _ => ("404 Not Found", "{}".to_owned()),
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                         cache-control: public, max-age=3600\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { issuer, state, jwks_requests, discovery_requests }
    }

    /// Serves these JWKs from now on.
    pub fn serve(&self, keys: &[&Value]) {
        self.state.lock().expect("lock").keys = keys.iter().map(|k| (*k).clone()).collect();
    }

    /// Names `uri` as `jwks_uri` in the discovery document from now on.
    pub fn point_jwks_at(&self, uri: &str) {
        self.state.lock().expect("lock").jwks_uri = Some(uri.to_owned());
    }

    /// Answers every request with 503 (down) or normally.
    pub fn set_up(&self, up: bool) {
        self.state.lock().expect("lock").up = up;
    }

    pub fn jwks_count(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }

    /// The `[[trusted_issuers]]` table for this provider (discovery), with
    /// audience `wsauth-tests`, RS256, ES256 and EdDSA, keys cached 60 s and
    /// fetched at most every 10 s.
    pub fn config(&self) -> TrustedIssuerConfig {
        let toml = format!(
            r#"issuer = "{}"
discovery = true
audiences = ["wsauth-tests"]
algorithms = ["RS256", "ES256", "EdDSA"]
jwks_cache_min = 60
jwks_cache_max = 60
jwks_refetch_interval = 10
jwks_stale = 300
"#,
            self.issuer
        );
        figment::Figment::from(figment::providers::Toml::string(&toml))
            .extract()
            .expect("trusted issuer table")
    }
}

/// Keys and tokens minted by PyJWT: `keys` are (name, alg, kid); each token
/// is (key name, claims, extra headers).
pub struct Minted {
    pub jwks: Value,
    pub tokens: Vec<String>,
}

impl Minted {
    pub fn jwk(&self, name: &str) -> &Value {
        &self.jwks[name]
    }
}

pub fn mint(keys: &[(&str, &str, &str)], tokens: &[(&str, Value, Value)]) -> Minted {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/jwks");
    let python = std::env::var_os("WSAUTH_JWKS_PYTHON")
        .map_or_else(|| dir.join(".venv/bin/python"), PathBuf::from);
    assert!(
        python.exists(),
        "{} is missing: run crates/wsauth-server/tests/jwks/setup.sh",
        python.display()
    );
    let request = json!({
        "keys": keys.iter().map(|(name, alg, kid)| json!({"name": name, "alg": alg, "kid": kid}))
            .collect::<Vec<_>>(),
        "tokens": tokens.iter().map(|(key, claims, headers)| {
            json!({"key": key, "claims": claims, "headers": headers})
        }).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(python)
        .arg(dir.join("mint.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run mint.py");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(request.to_string().as_bytes()).expect("write request");
    }
    let out = child.wait_with_output().expect("mint.py");
    assert!(out.status.success(), "mint.py failed");
    let answer: Value = serde_json::from_slice(&out.stdout).expect("mint.py answer");
    let tokens = answer["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t.as_str().expect("token").to_owned())
        .collect();
    Minted { jwks: answer["jwks"].clone(), tokens }
}

/// Claims of a token from `issuer` for `subject`, valid for an hour from `now`.
pub fn claims(issuer: &str, subject: &str, now: i64) -> Value {
    json!({
        "iss": issuer,
        "sub": subject,
        "aud": "wsauth-tests",
        "iat": now,
        "exp": now + 3600,
    })
}
