//! A flag's value refused by the command-line parser names the flag
//! (`--access-ttl`). When the operator never passed that flag, the value
//! came from its `WSAUTH_*` variable: say so, naming the variable.

use clap::error::{ContextKind, ContextValue};

/// `error`, naming the environment variable instead of the flag when the
/// refused value came from the variable. `command` is the parser that
/// refused it; `given` the command line.
pub fn name_the_variable(
    error: clap::Error,
    command: &clap::Command,
    given: &[String],
) -> clap::Error {
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue) else {
        return error;
    };
    let long = flag.split_whitespace().next().unwrap_or_default();
    let Some(arg) = command
        .get_arguments()
        .find(|arg| arg.get_long().is_some_and(|name| format!("--{name}") == long))
    else {
        return error;
    };
    let passed = given.iter().any(|word| word == long || word.starts_with(&format!("{long}=")));
    let Some(variable) = arg.get_env().and_then(|name| name.to_str()) else {
        return error;
    };
    let from_variable = std::env::var(variable).is_ok_and(|set| set.contains(value.as_str()));
    if passed || !from_variable {
        return error;
    }
    let rendered = error.render().to_string();
    let text = rendered
        .trim_start_matches("error: ")
        .replace(&format!("for '{flag}'"), &format!("in environment variable {variable}"));
    clap::Error::raw(error.kind(), text)
}
