//! docs/configuration.md and `--help` state every setting's default; these
//! tests hold both to `Config::default()` (and to the defaults of the
//! `[[proxy]]` and `[[trusted_issuers]]` tables), and the documented flags
//! and environment variables to the ones the binary reads, so that neither
//! can drift from the code.

use clap::Args;
use serde_json::{Map, Value};
use wsauth_server::{Config, Overrides};

const DOC: &str = include_str!("../../../../docs/configuration.md");

/// Defaults the documentation describes rather than spells, because they
/// are decided at start: what the serialised default holds for them.
const DESCRIBED: [(&str, Described); 3] = [
    // The server's own origins, once its port is known.
    ("allowed_origins", Described::Empty),
    // The SQLite file in `data_dir`.
    ("database_url", Described::Empty),
    // From the soft `RLIMIT_NOFILE`.
    ("max_connections", Described::Number),
];

#[derive(Debug, Clone, Copy)]
enum Described {
    /// Unset or empty in the configuration, filled in at start.
    Empty,
    /// A number worked out from the system.
    Number,
}

/// The rows of the first table after the heading that starts with
/// `heading` (the document's first table for `None`): each row's cells,
/// trimmed, header and separator left out.
fn table(heading: Option<&str>) -> Vec<Vec<String>> {
    let mut lines = DOC.lines();
    if let Some(heading) = heading {
        lines.by_ref().find(|line| line.starts_with(heading)).expect(heading);
    }
    let rows: Vec<Vec<String>> = lines
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| line.trim_matches('|').split('|').map(|cell| cell.trim().to_owned()).collect())
        .collect();
    assert!(!rows.is_empty(), "no table after {heading:?}");
    rows
}

/// The text between the first pair of backticks in `cell`.
fn quoted(cell: &str) -> Option<&str> {
    let (_, rest) = cell.split_once('`')?;
    Some(rest.split_once('`')?.0)
}

/// A table's key: `listen`, `[[proxy]]` as `proxy`.
fn key_of(cell: &str) -> String {
    quoted(cell).expect(cell).trim_matches(['[', ']']).to_owned()
}

/// Whether a default written as `written` (a doc cell or the text of a
/// `[default: ...]`) says what `actual` (the serialised default; `None` when
/// left out) is.
fn says(key: &str, written: &str, actual: Option<&Value>) -> Result<(), String> {
    let unset = matches!(actual, None | Some(Value::Null))
        || actual.is_some_and(|v| v.as_array().is_some_and(Vec::is_empty));
    if written.starts_with("none") || written.starts_with("unset") {
        return if unset { Ok(()) } else { Err(format!("{key}: {written:?} but {actual:?}")) };
    }
    if let Some((_, described)) = DESCRIBED.iter().find(|(name, _)| *name == key) {
        let holds = match described {
            Described::Empty => unset,
            Described::Number => actual.is_some_and(Value::is_number),
        };
        return if holds { Ok(()) } else { Err(format!("{key}: described, but {actual:?}")) };
    }
    let literal = quoted(written).unwrap_or(written);
    let actual = actual.ok_or_else(|| format!("{key}: {literal:?} but no default"))?;
    let same = match (serde_json::from_str::<Value>(literal), actual) {
        (Ok(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Ok(parsed), _) if !parsed.is_string() || actual.is_string() => parsed == *actual,
        _ => actual.as_str() == Some(literal),
    };
    if same { Ok(()) } else { Err(format!("{key}: written {literal:?}, but {actual}")) }
}

fn serialised<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value).expect("serialise") {
        Value::Object(map) => map,
        other => panic!("not a table: {other}"),
    }
}

/// The flags and environment variables, as clap has them.
fn flags() -> clap::Command {
    Overrides::augment_args(clap::Command::new("wsauth"))
}

#[test]
fn the_documented_defaults_are_config_default() {
    let defaults = serialised(&Config::default());
    let limits = defaults["limits"].as_object().expect("limits").clone();
    let mut wrong = Vec::new();
    let mut documented = Vec::new();
    for row in table(None) {
        let key = key_of(&row[0]);
        wrong.extend(says(&key, &row[3], defaults.get(&key)).err());
        documented.push(key);
    }
    for row in table(Some("## `[limits]`")) {
        let key = key_of(&row[0]);
        wrong.extend(says(&key, &row[2], limits.get(&key)).err());
        assert!(limits.contains_key(&key), "[limits] {key} is documented but not a setting");
    }
    for key in
        defaults.keys().filter(|k| !["limits", "trusted_issuers", "channels"].contains(&k.as_str()))
    {
        assert!(documented.contains(key), "{key} is not in docs/configuration.md's table");
    }
    let channels = serialised(&wsauth_server::config::ChannelSettings::default());
    for row in table(Some("## `[channels]`")) {
        let key = key_of(&row[0]);
        wrong.extend(says(&key, &row[1], channels.get(&key)).err());
    }
    for key in ["rules", "max_subscriptions"] {
        let row = format!("| `{key}` |");
        assert!(DOC.contains(&row), "[channels] {key} is not in docs/configuration.md");
    }
    for key in limits.keys() {
        let row = format!("| `{key}` |");
        assert!(DOC.contains(&row), "[limits] {key} is not in docs/configuration.md");
    }
    assert!(wrong.is_empty(), "docs/configuration.md drifted:\n{}", wrong.join("\n"));
}

#[test]
fn the_documented_flags_and_environment_variables_are_the_binarys() {
    let flags = flags();
    for row in table(None) {
        let key = key_of(&row[0]);
        let arg = flags.get_arguments().find(|arg| arg.get_id() == key.as_str());
        let Some(arg) = arg else {
            assert!(row[1].is_empty() && row[2].is_empty(), "{key}: documented without a flag");
            continue;
        };
        let flag = quoted(&row[1]).and_then(|f| f.split(' ').next()).expect(&key);
        assert_eq!(Some(flag.trim_start_matches("--")), arg.get_long(), "{key}'s flag");
        let env = arg.get_env().and_then(|e| e.to_str());
        assert_eq!(quoted(&row[2]), env, "{key}'s environment variable");
    }
    for row in table(Some("## `[limits]`")) {
        let key = key_of(&row[0]);
        let env = format!("WSAUTH_LIMITS_{}", key.to_uppercase());
        assert_eq!(quoted(&row[1]), Some(env.as_str()), "{key}'s environment variable");
    }
}

#[test]
fn the_help_texts_defaults_are_config_default() {
    let defaults = serialised(&Config::default());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for arg in flags().get_arguments() {
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let Some((_, rest)) = help.split_once("[default: ") else { continue };
        let written = rest.split_once(']').expect("closing bracket").0;
        let key = arg.get_id().as_str();
        wrong.extend(says(key, written, defaults.get(key)).err());
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} help texts state a default");
    assert!(wrong.is_empty(), "--help drifted:\n{}", wrong.join("\n"));
}

#[test]
fn the_documented_table_defaults_are_the_types_own() {
    let route = wsauth_server::proxy::ProxyRoute::new("/p", "ws://127.0.0.1:1/");
    let route = serialised(&route);
    let mut wrong = Vec::new();
    for row in table(Some("## Proxied routes")) {
        let key = key_of(&row[0]);
        if row[1] != "required" {
            wrong.extend(says(&key, &row[1], route.get(&key)).err());
        }
    }
    let minimal = "[[trusted_issuers]]\nissuer = \"https://idp.example\"\n\
                   jwks_url = \"https://idp.example/jwks\"\naudiences = [\"api\"]\n";
    let config = Config::from_toml(minimal, &Overrides::default()).expect("one issuer");
    let issuer = serialised(&config.trusted_issuers[0]);
    for row in table(Some("## Trusted issuers")) {
        let key = key_of(&row[0]);
        if !["required", "one of the two"].contains(&row[1].as_str()) {
            wrong.extend(says(&key, &row[1], issuer.get(&key)).err());
        }
    }
    assert!(wrong.is_empty(), "docs/configuration.md drifted:\n{}", wrong.join("\n"));
}
