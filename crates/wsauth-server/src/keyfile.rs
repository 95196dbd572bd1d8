//! The signing key: from `WSAUTH_HMAC_SECRET`, or generated on first start
//! into the data directory (file mode 0600) and reused afterwards.

use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use wsauth::{Algorithm, Key};

use crate::config::Config;

/// Loads or creates the signing key described by the configuration.
pub fn load_key(config: &Config) -> anyhow::Result<Key> {
    if let Some(secret) = &config.hmac_secret {
        return if config.insecure_dev {
            wsauth::dangerous::weak_hmac_key(Algorithm::HS256, secret.as_bytes())
                .map_err(Into::into)
        } else {
            Key::hmac(Algorithm::HS256, secret.as_bytes())
                .context("WSAUTH_HMAC_SECRET is refused (set WSAUTH_INSECURE_DEV=true only for local experiments)")
        };
    }
    let alg = Algorithm::from_name(&config.algorithm)
        .filter(|a| matches!(a, Algorithm::HS256 | Algorithm::EdDSA | Algorithm::ES256))
        .with_context(|| {
            format!("algorithm {:?} is not one of HS256, EdDSA, ES256", config.algorithm)
        })?;
    let path = config.data_dir.join(format!("signing-key.{}", alg.name().to_ascii_lowercase()));
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
