//! Which key signs: `hmac_secret`, `private_key_file` with its `algorithm`,
//! or a key generated into the data directory; and the keys of
//! `[[previous_keys]]`. Checked before anything is read from disk, so that
//! a setting given with the wrong partner is refused by name, not silently
//! outranked by another.

use super::nearest::nearest;
use super::{Config, ConfigError, PreviousKey};

/// The algorithms wsauth signs with.
const SIGNING: [&str; 5] = ["HS256", "EdDSA", "ES256", "RS256", "PS256"];
/// Those it can generate a key for.
const GENERATED: [&str; 3] = ["HS256", "EdDSA", "ES256"];
/// Those a key file may hold.
const FROM_A_FILE: [&str; 4] = ["EdDSA", "ES256", "RS256", "PS256"];

impl Config {
    /// One source of the signing key, and an algorithm it can sign with.
    pub(super) fn validate_keys(&self) -> Result<(), ConfigError> {
        let algorithm = self.algorithm.as_str();
        known(algorithm, "algorithm")?;
        let refused = |why: String| Err(ConfigError::Invalid(why));
        match (&self.hmac_secret, &self.private_key_file) {
            (Some(_), Some(_)) => refused(
                "hmac_secret and private_key_file are both set: one key signs; remove one of them"
                    .into(),
            ),
            (Some(_), None) if algorithm != "HS256" => refused(format!(
                "algorithm {algorithm:?} cannot sign with hmac_secret, an HS256 secret: remove \
                 hmac_secret (to sign with a key file or a generated key) or set algorithm = \
                 \"HS256\""
            )),
            (None, Some(_)) if !FROM_A_FILE.contains(&algorithm) => refused(format!(
                "private_key_file needs algorithm set to its key's, one of {} (algorithm is \
                 {algorithm:?}, which is for hmac_secret and generated keys)",
                FROM_A_FILE.join(", ")
            )),
            (None, None) if !GENERATED.contains(&algorithm) => refused(format!(
                "algorithm {algorithm:?} needs private_key_file (a PKCS#8 PEM private key): \
                 wsauth generates {} keys only",
                GENERATED.join(", ")
            )),
            _ => self.previous_keys.iter().try_for_each(validate_previous),
        }
    }
}

/// An entry of `[[previous_keys]]`: a secret or a file, and for a file the
/// algorithm of its key.
fn validate_previous(previous: &PreviousKey) -> Result<(), ConfigError> {
    let refused =
        |why: &str| Err(ConfigError::Invalid(format!("an entry of [[previous_keys]] {why}")));
    let algorithm = previous.algorithm.as_deref();
    if let Some(algorithm) = algorithm {
        known(algorithm, "algorithm in [[previous_keys]]")?;
    }
    match (&previous.hmac_secret, &previous.private_key_file, algorithm) {
        (Some(_), Some(_), _) | (None, None, _) => {
            refused("needs exactly one of hmac_secret and private_key_file")
        }
        (Some(_), None, Some(other)) if other != "HS256" => {
            refused(&format!("has an hmac_secret, an HS256 secret, but algorithm {other:?}"))
        }
        (None, Some(path), None) => refused(&format!(
            "with private_key_file {} needs the algorithm of its key, one of {}",
            path.display(),
            FROM_A_FILE.join(", ")
        )),
        (None, Some(path), Some(other)) if !FROM_A_FILE.contains(&other) => refused(&format!(
            "with private_key_file {} has algorithm {other:?}; a key file holds one of {}",
            path.display(),
            FROM_A_FILE.join(", ")
        )),
        _ => Ok(()),
    }
}

/// Refuses an algorithm wsauth does not sign with, `none` by its own
/// reason and a near miss (`hs256`, `RS265`) with the name meant.
fn known(algorithm: &str, setting: &str) -> Result<(), ConfigError> {
    if SIGNING.contains(&algorithm) {
        return Ok(());
    }
    let why = if algorithm.eq_ignore_ascii_case("none") {
        "unsigned tokens are never issued or accepted".to_owned()
    } else if let Some(meant) = nearest(algorithm, SIGNING) {
        format!("did you mean {meant:?}? (names are case-sensitive)")
    } else {
        format!("the algorithms are {}", SIGNING.join(", "))
    };
    Err(ConfigError::Invalid(format!("{setting} {algorithm:?} is refused: {why}")))
}

#[cfg(test)]
mod tests {
    use super::super::Overrides;
    use super::*;

    fn refused(toml: &str) -> String {
        Config::from_toml(toml, &Overrides::default()).expect_err(toml).to_string()
    }

    #[test]
    fn a_secret_and_a_file_together_are_refused_rather_than_one_outranking_the_other() {
        let both = "hmac_secret = \"0123456789abcdef0123456789abcdef\"\n\
                    private_key_file = \"k.pem\"\nalgorithm = \"EdDSA\"";
        assert!(refused(both).contains("hmac_secret and private_key_file are both set"));
        let secret = "hmac_secret = \"0123456789abcdef0123456789abcdef\"\nalgorithm = \"EdDSA\"";
        assert!(refused(secret).contains("cannot sign with hmac_secret"));
    }

    #[test]
    fn an_algorithm_needs_a_key_it_can_sign_with() {
        assert!(refused("algorithm = \"RS256\"").contains("needs private_key_file"));
        assert!(refused("private_key_file = \"k.pem\"").contains("needs algorithm set"));
        assert!(refused("algorithm = \"hs256\"").contains("did you mean \"HS256\"?"));
        assert!(refused("algorithm = \"none\"").contains("unsigned tokens are never"));
        let previous = "[[previous_keys]]\nprivate_key_file = \"k.pem\"\nvalid_until = 1";
        assert!(refused(previous).contains("needs the algorithm of its key"));
        for algorithm in GENERATED {
            let toml = format!("algorithm = {algorithm:?}");
            assert!(Config::from_toml(&toml, &Overrides::default()).is_ok(), "{algorithm}");
        }
    }
}
