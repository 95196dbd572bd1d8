//! The key set: the signing key from `WSAUTH_HMAC_SECRET`, from a PEM file,
//! or generated on first start into the data directory (file mode 0600) and
//! reused afterwards; plus previous keys that verify until their deadline.

use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use wsauth::{Algorithm, Key, KeySet};

use crate::config::{Config, PreviousKey};

/// The key set described by the configuration.
pub(crate) fn load_keys(config: &Config) -> anyhow::Result<KeySet> {
    let mut keys = KeySet::new(load_key(config)?);
    for previous in &config.previous_keys {
        keys = keys.with_previous(previous_key(config, previous)?, previous.valid_until);
    }
    Ok(keys)
}

/// Warns, once per key, about a previous key whose `valid_until` has passed:
/// it verifies nothing any more (its tokens are refused as `key_retired`),
/// and a copied example or a forgotten rotation leaves it there.
pub(crate) fn warn_about_retired(keys: &KeySet, now: i64) {
    for (key, valid_until) in keys.retired(now) {
        tracing::warn!(
            kid = key.kid(),
            valid_until,
            "previous key {} is retired: its valid_until ({valid_until}) has passed, so its tokens \
             are refused as key_retired; remove it from previous_keys",
            key.kid()
        );
    }
}

fn hmac_key(config: &Config, secret: &str) -> anyhow::Result<Key> {
    if config.insecure_dev {
        wsauth::dangerous::weak_hmac_key(Algorithm::HS256, secret.as_bytes()).map_err(Into::into)
    } else {
        Key::hmac(Algorithm::HS256, secret.as_bytes()).map_err(|_| {
            anyhow::anyhow!(
                "hmac_secret is too weak ({} bytes): give at least 32 random bytes, such as \
                 the output of `openssl rand -base64 48` (insecure_dev = true allows a short \
                 one for local experiments only)",
                secret.len()
            )
        })
    }
}

/// The key in the PEM file `path` (the setting `setting` names it), for
/// `algorithm`. The algorithm was checked with the configuration.
fn pem_key(setting: &str, algorithm: &str, path: &Path) -> anyhow::Result<Key> {
    let shown = path.display();
    let alg = Algorithm::from_name(algorithm)
        .filter(|a| !a.is_hmac())
        .with_context(|| format!("algorithm {algorithm:?} cannot sign with a key file"))?;
    wsauth_domain::files::private_file(path)?;
    let pem = std::fs::read(path).with_context(|| format!("{setting} {shown} cannot be read"))?;
    Key::from_private_pem(alg, &pem)
        .map_err(|_| anyhow::anyhow!("{setting} {shown} {}", what_is_wrong(alg, &pem)))
}

/// Why `pem` is not a private key for `alg`, and what to do.
fn what_is_wrong(alg: Algorithm, pem: &[u8]) -> String {
    let text = String::from_utf8_lossy(pem);
    let wanted = format!("a PKCS#8 PEM {} private key (-----BEGIN PRIVATE KEY-----)", alg.name());
    if !text.contains("-----BEGIN ") {
        return format!("is not a PEM file: expected {wanted}");
    }
    if text.contains("PUBLIC KEY-----") || text.contains("CERTIFICATE-----") {
        return format!("holds a public key or certificate: give the private key, {wanted}");
    }
    if text.contains("ENCRYPTED PRIVATE KEY-----") {
        return format!(
            "is encrypted: give it unencrypted (openssl pkcs8 -topk8 -nocrypt), {wanted}"
        );
    }
    let held = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256]
        .into_iter()
        .find(|other| *other != alg && Key::from_private_pem(*other, pem).is_ok());
    match held {
        Some(Algorithm::RS256) => {
            format!("holds an RSA key, not {}: set algorithm = \"RS256\" or \"PS256\"", alg.name())
        }
        Some(other) => format!(
            "holds an {} key, not {}: set algorithm = \"{}\"",
            other.name(),
            alg.name(),
            other.name()
        ),
        None => format!("is not a private key wsauth can read: expected {wanted}"),
    }
}

fn previous_key(config: &Config, previous: &PreviousKey) -> anyhow::Result<Key> {
    match (&previous.hmac_secret, &previous.private_key_file) {
        (Some(secret), None) => hmac_key(config, secret),
        (None, Some(path)) => {
            let algorithm =
                previous.algorithm.as_deref().context("a previous key file needs an algorithm")?;
            pem_key("[[previous_keys]] private_key_file", algorithm, path)
        }
        _ => anyhow::bail!("a previous key needs exactly one of hmac_secret and private_key_file"),
    }
}

/// The signing key: the configured secret or file, or the generated one.
fn load_key(config: &Config) -> anyhow::Result<Key> {
    if let Some(secret) = &config.hmac_secret {
        return hmac_key(config, secret);
    }
    if let Some(path) = &config.private_key_file {
        return pem_key("private_key_file", &config.algorithm, path);
    }
    let alg = Algorithm::from_name(&config.algorithm)
        .filter(|a| matches!(a, Algorithm::HS256 | Algorithm::EdDSA | Algorithm::ES256))
        .with_context(|| {
            format!("algorithm {:?} is not one of HS256, EdDSA, ES256", config.algorithm)
        })?;
    let path = config.data_dir.join(format!("signing-key.{}", alg.name().to_ascii_lowercase()));
    wsauth_domain::files::private_file(&path)?;
    let material = match std::fs::read(&path) {
        Ok(bytes) => {
            tracing::info!(path = %path.display(), "using the signing key");
            bytes
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = wsauth::generate_key_material(alg)?;
            write_private(&path, &bytes)?;
            tracing::info!(path = %path.display(), "generated a new signing key");
            bytes
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Key::from_material(alg, &material).with_context(|| format!("{} is damaged", path.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
