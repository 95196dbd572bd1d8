//! `WSAUTH_*` environment variables the server does not read. A near miss
//! of one it reads (`WSAUTH_ACESS_TTL`, `WSAUTH_LIMITS_PING_INTERVL`) is
//! refused with the name meant, at the top level and under `[limits]`
//! alike; any other name is logged as a warning at start. The names the
//! project's own test and benchmark tools use are reserved, neither refused
//! nor warned about (docs/configuration.md, "Environment variables").

use clap::Args;
use figment::Figment;
use figment::error::Kind;
use figment::providers::Serialized;

use super::nearest::nearest;
use super::{Config, ConfigError, Overrides};

/// The prefix of every variable the server reads.
const PREFIX: &str = "WSAUTH_";
/// A table of the file whose keys are read as `WSAUTH_<TABLE>_<KEY>` too.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    /// The table's name in the file.
    pub(super) name: &'static str,
    /// The prefix of its variables.
    pub(super) prefix: &'static str,
}

/// `[limits]` and `[channels]`.
pub(super) const TABLES: [Table; 2] = [
    Table { name: "limits", prefix: "WSAUTH_LIMITS_" },
    Table { name: "channels", prefix: "WSAUTH_CHANNELS_" },
];

impl Table {
    /// The table's keys, as serde knows them.
    pub(super) fn keys(self) -> &'static [&'static str] {
        fields_at(&format!("{}.\u{1}", self.name))
    }
}
/// Read by `main` (`--config`), not by [`Overrides`].
const CONFIG_FILE: &str = "WSAUTH_CONFIG";
/// Prefixes reserved for the project's tools: never read, never reported.
const RESERVED_PREFIXES: [&str; 2] = ["WSAUTH_TEST_", "WSAUTH_BENCH_"];
/// Names reserved for the project's tools (the test binaries' path, the
/// JWKS tests' Python, the OpenAPI check's admin key, the example client's
/// password, the benchmark scripts' own): never read, never reported.
const RESERVED: [&str; 8] = [
    "WSAUTH_BIN",
    "WSAUTH_JWKS_PYTHON",
    "WSAUTH_ADMIN_KEY",
    "WSAUTH_PASSWORD",
    "WSAUTH_ENV",
    "WSAUTH_PID",
    "WSAUTH_STATUS",
    "WSAUTH_ADDR",
];

/// A `WSAUTH_*` variable that is set and that the server does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadVariable {
    /// Its name.
    pub name: String,
    /// Why it is not read, and what to do.
    pub reason: String,
}

impl std::fmt::Display for UnreadVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "environment variable {} is not read: {}", self.name, self.reason)
    }
}

/// The top-level keys of the file, as serde knows them.
fn top_keys() -> &'static [&'static str] {
    fields_at("\u{1}")
}

/// The fields serde expects where `probe` (a key no struct has) is put.
fn fields_at(probe: &str) -> &'static [&'static str] {
    let refused = Figment::from(Serialized::default(probe, 0)).extract::<Config>();
    refused
        .err()
        .into_iter()
        .flatten()
        .find_map(|error| match error.kind {
            Kind::UnknownField(_, expected) => Some(expected),
            _ => None,
        })
        .unwrap_or_default()
}

/// Every variable name the server reads.
fn read_names() -> Vec<String> {
    let flags = Overrides::augment_args(clap::Command::new("wsauth"));
    let mut names: Vec<String> = flags
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.push(CONFIG_FILE.to_owned());
    for table in TABLES {
        names.extend(
            table.keys().iter().map(|key| format!("{}{}", table.prefix, key.to_ascii_uppercase())),
        );
    }
    names
}

fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name) || RESERVED_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The `WSAUTH_*` names among `names` that are not read: an error naming
/// the first near miss of a read one, else each with why.
pub(super) fn unread(
    names: impl IntoIterator<Item = String>,
) -> Result<Vec<UnreadVariable>, ConfigError> {
    let read = read_names();
    let mut unread = Vec::new();
    for name in names {
        if !name.starts_with(PREFIX) || read.contains(&name) || is_reserved(&name) {
            continue;
        }
        if let Some(meant) = nearest(&name, read.iter().map(String::as_str)) {
            return Err(ConfigError::Invalid(format!(
                "environment variable {name} is not a setting: did you mean {meant}?"
            )));
        }
        unread.push(UnreadVariable { reason: why_unread(&name), name });
    }
    Ok(unread)
}

/// A setting of the file that no variable sets, a `[limits]` or
/// `[channels]` key without its table's part, or a name nothing uses.
fn why_unread(name: &str) -> String {
    let key = name.trim_start_matches(PREFIX).to_ascii_lowercase();
    if top_keys().contains(&key.as_str()) {
        return format!("{key} is set in the configuration file only");
    }
    match TABLES.into_iter().find(|table| table.keys().contains(&key.as_str())) {
        Some(Table { name, prefix }) => {
            format!("[{name}] settings are {prefix}<KEY>: {prefix}{}", key.to_ascii_uppercase())
        }
        None => "no setting has this name (docs/configuration.md lists them)".to_owned(),
    }
}

impl Config {
    /// The `WSAUTH_*` variables set in this process that the server does
    /// not read (each to be logged as a warning at start).
    pub fn unread_variables() -> Vec<UnreadVariable> {
        unread(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_near_miss_is_refused_with_the_name_meant() {
        for (typo, meant) in [
            ("WSAUTH_ACESS_TTL", "WSAUTH_ACCESS_TTL"),
            ("WSAUTH_LIMITS_PING_INTERVL", "WSAUTH_LIMITS_PING_INTERVAL"),
            ("WSAUTH_CONFIGG", "WSAUTH_CONFIG"),
        ] {
            let refused = unread(names(&[typo])).expect_err(typo).to_string();
            assert!(
                refused.contains(&format!("{typo} is not a setting: did you mean {meant}?")),
                "{refused}"
            );
        }
    }

    #[test]
    fn other_unknown_names_are_reported_and_the_tools_names_are_not() {
        let found = unread(names(&[
            "WSAUTH_LEEWAY",
            "WSAUTH_PASSWORD_RATE",
            "WSAUTH_LIMITS_COLOUR_OF_SOCKETS",
            "WSAUTH_BIN",
            "WSAUTH_TEST_POSTGRES",
            "WSAUTH_BENCH_HMAC_SECRET",
            "WSAUTH_ADMIN_KEY",
            "WSAUTH_ACCESS_TTL",
            "WSAUTH_LIMITS_AUTH_TIMEOUT_MS",
            "HOME",
        ]))
        .expect("no near miss");
        let reported: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(reported.len(), 3, "{reported:?}");
        assert!(
            reported[0].contains(
                "WSAUTH_LEEWAY is not read: leeway is set in the configuration file only"
            )
        );
        assert!(reported[1].contains("WSAUTH_LIMITS_PASSWORD_RATE"), "{reported:?}");
        assert!(reported[2].contains("no setting has this name"), "{reported:?}");
    }
}
