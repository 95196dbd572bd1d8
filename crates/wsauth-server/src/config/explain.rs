//! What the operator reads when a value cannot be read: the setting as
//! written in the file or the environment variable that gave it, why in
//! words ("a whole number of seconds", not `i64`), and a suggestion when a
//! name is a typo of a real one. Figment's own text names its profile
//! (`default.`), quotes every expected key and serde's type names.

use figment::error::{Actual, Kind};
use std::path::Path;

use super::environment::TABLES;
use super::nearest::nearest;

/// Where the values came from: the file, if one was given. `[limits]`
/// values may come from `WSAUTH_LIMITS_<KEY>` variables instead.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sources<'a> {
    /// The configuration file, if one was given.
    pub(super) file: Option<&'a Path>,
}

/// The settings given as lists of tables (`[[name]]`).
const TABLE_LISTS: [&str; 3] = ["proxy", "trusted_issuers", "previous_keys"];

/// Settings counted in seconds whose names do not say so.
const SECONDS: [&str; 6] = [
    "leeway",
    "max_token_lifetime",
    "expiry_grace",
    "jwks_cache_min",
    "jwks_cache_max",
    "jwks_stale",
];

/// Every error in `error`, one line each, in the operator's words.
pub(super) fn explain(error: figment::Error, sources: Sources<'_>) -> String {
    let lines: Vec<String> = error.into_iter().map(|one| explain_one(&one, sources)).collect();
    lines.join("\n")
}

fn explain_one(error: &figment::Error, sources: Sources<'_>) -> String {
    let place = Place::of(error, sources);
    let key = place.key();
    let last = place.name();
    match &error.kind {
        Kind::UnknownField(found, expected) => unknown(&place, found, expected),
        Kind::InvalidType(Actual::Map, expected)
            if expected == "a sequence" && is_table_list(last) =>
        {
            format!(
                "{key}{}: [{last}] is one table; write [[{last}]] (two brackets), one per entry",
                place.origin()
            )
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => format!(
            "{key}{} must be {}, not {}",
            place.origin(),
            in_words(expected, last),
            found(actual)
        ),
        Kind::MissingField(field) if is_table_list(last) => {
            format!("an entry of [[{last}]]{} has no `{field}`", place.origin())
        }
        Kind::MissingField(field) => {
            format!("{key}{}: `{field}` is missing", place.origin())
        }
        Kind::UnknownVariant(found, expected) => {
            format!("{key}{}: {found:?} is not one of {}", place.origin(), expected.join(", "))
        }
        // The file itself: not TOML (figment's message shows the line).
        Kind::Message(message) if place.path.is_empty() => match sources.file {
            Some(file) => format!("{} is not valid TOML: {message}", file.display()),
            None => format!("the configuration is not valid TOML: {message}"),
        },
        Kind::Message(message) => {
            format!("{key}{}: {message}{}", place.origin(), super::hints::for_setting(last))
        }
        other => format!("{key}{}: {other}", place.origin()),
    }
}

/// A key that is not a setting, with the nearest real one or, for a small
/// table, the settings it has.
fn unknown(place: &Place<'_>, found: &str, expected: &[&str]) -> String {
    let section = place.section();
    let within = if section.is_empty() { String::new() } else { format!(" under {section}") };
    if let Some(variable) = &place.variable {
        let prefix = variable.trim_end_matches(&found.to_ascii_uppercase());
        let suggestion = nearest(found, expected.iter().copied()).map_or(String::new(), |near| {
            format!("; did you mean {prefix}{}?", near.to_ascii_uppercase())
        });
        return format!("environment variable {variable}: no such setting{within}{suggestion}");
    }
    let suggestion = match nearest(found, expected.iter().copied()) {
        Some(near) => format!("; did you mean `{near}`?"),
        None if expected.len() <= 12 => format!("; the settings here are {}", expected.join(", ")),
        None => "; docs/configuration.md lists every setting".to_owned(),
    };
    format!("unknown setting `{found}`{within}{}{suggestion}", place.origin())
}

fn is_table_list(name: &str) -> bool {
    TABLE_LISTS.contains(&name)
}

fn counts_seconds(name: &str) -> bool {
    ["_ttl", "_timeout", "_interval", "_grace"].iter().any(|end| name.ends_with(end))
        || SECONDS.contains(&name)
}

/// Serde's expectation (`i64`, `a sequence`) as an operator would say it.
fn in_words(expected: &str, name: &str) -> String {
    let seconds = if counts_seconds(name) { " of seconds" } else { "" };
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => format!("a whole number{seconds}"),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            format!("a whole number{seconds}, 0 or more")
        }
        "f32" | "f64" => format!("a number{seconds}"),
        "a boolean" => "true or false".to_owned(),
        "a string" => "a string in quotes".to_owned(),
        "a sequence" if is_table_list(name) => format!("a list of tables, [[{name}]]"),
        "a sequence" => "a list, [\"...\", \"...\"]".to_owned(),
        other if other.starts_with("struct ") || other == "a map" => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// What was found instead, without serde's type names.
fn found(actual: &Actual) -> String {
    match actual {
        Actual::Str(text) => format!("the text {text:?}"),
        Actual::Unsigned(n) => format!("the number {n}"),
        Actual::Signed(n) => format!("the number {n}"),
        // `1e300`, not three hundred digits.
        Actual::Float(n) if n.abs() >= 1e15 => format!("the number {n:e}"),
        Actual::Float(n) => format!("the number {n}"),
        Actual::Bool(b) => format!("{b}"),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        other => other.to_string(),
    }
}

/// The setting an error is about and who gave it.
struct Place<'a> {
    /// The keys to the value; an entry of a list of tables is a number.
    path: &'a [String],
    /// The `WSAUTH_LIMITS_<KEY>` or `WSAUTH_CHANNELS_<KEY>` variable that
    /// gave the value, if one did.
    variable: Option<String>,
    file: Option<&'a Path>,
}

fn is_index(key: &str) -> bool {
    key.bytes().all(|byte| byte.is_ascii_digit())
}

impl<'a> Place<'a> {
    fn of(error: &'a figment::Error, sources: Sources<'a>) -> Self {
        let path = error.path.as_slice();
        let from_environment =
            error.metadata.as_ref().is_some_and(|metadata| metadata.name.contains("environment"));
        let table = |section: &str| TABLES.into_iter().find(|table| table.name == section);
        let variable = match path {
            [section, key] => table(section).and_then(|table| {
                let name = format!("{}{}", table.prefix, key.to_ascii_uppercase());
                (from_environment || std::env::var_os(&name).is_some()).then_some(name)
            }),
            _ => None,
        };
        Self { path, variable, file: sources.file }
    }

    /// The setting's own name (`ping_interval`), without list positions.
    fn name(&self) -> &str {
        self.path.iter().rev().find(|key| !is_index(key)).map(String::as_str).unwrap_or_default()
    }

    /// The setting as written in the file, `limits.ping_interval` or
    /// `[[proxy]] upstream`; the variable's name when one gave it.
    fn key(&self) -> String {
        if let Some(variable) = &self.variable {
            return format!("environment variable {variable}");
        }
        match self.path.iter().position(|key| is_index(key)) {
            Some(at) if at + 1 < self.path.len() => {
                format!("`{}` in [[{}]]", self.path[at + 1..].join("."), self.path[..at].join("."))
            }
            _ => format!("`{}`", self.without_positions().join(".")),
        }
    }

    fn without_positions(&self) -> Vec<&str> {
        self.path.iter().filter(|key| !is_index(key)).map(String::as_str).collect()
    }

    /// The table the setting is in, `[limits]` or `[[proxy]]`; empty at
    /// the top level.
    fn section(&self) -> String {
        let Some((_, parents)) = self.path.split_last() else {
            return String::new();
        };
        match parents.iter().position(|key| is_index(key)) {
            Some(at) => format!("[[{}]]", parents[..at].join(".")),
            None if parents.is_empty() => String::new(),
            None => format!("[{}]", parents.join(".")),
        }
    }

    /// ` in FILE`, when the value came from the file.
    fn origin(&self) -> String {
        match (&self.variable, self.file) {
            (None, Some(file)) => format!(" in {}", file.display()),
            _ => String::new(),
        }
    }
}
