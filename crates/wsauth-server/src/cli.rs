//! The command line: `serve` (the default), `user ...`, and the shell
//! completions and manual page generated from these same definitions, so
//! that neither can drift from the flags the binary reads.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::{Path, PathBuf};
use wsauth_server::Overrides;

use crate::user_commands::UserAction;

/// Said at the end of `--help` and in the manual page.
const FILE_ONLY_SETTINGS: &str = "\
Some settings exist only in the configuration file (--config): the token \
settings beyond the lifetimes (leeway, issuer, audience, ticket_ttl, ...), \
previous_keys, [limits] (or WSAUTH_LIMITS_<KEY>), the options of [[proxy]] \
routes and [[trusted_issuers]]. Every setting with its flag, environment \
variable and default: docs/configuration.md (installed as \
/usr/share/doc/wsauth/configuration.md by the Debian package).";

/// The settings that `wsauth user ...` reads: where the accounts are, and
/// how to log. The other flags concern a running server only, so the user
/// commands' help leaves them out (they are still accepted, as before).
const USER_FLAGS: [&str; 5] = ["config", "data_dir", "database_url", "log", "log_format"];

#[derive(Parser)]
#[command(
    name = "wsauth",
    version,
    about = "Authenticated WebSocket server",
    after_help = FILE_ONLY_SETTINGS
)]
pub(crate) struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "WSAUTH_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve HTTP and WebSocket (the default).
    #[command(after_help = FILE_ONLY_SETTINGS)]
    Serve,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, wsauth(1), to stdout (roff); with `--dir`,
    /// write it and one page per subcommand (wsauth-user-add(1), ...) there.
    Man {
        /// A directory to write every page into instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The whole command line, with the server-only flags hidden under `user`.
pub(crate) fn command() -> clap::Command {
    let root = Cli::command();
    let server_only: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|arg| arg.is_global_set() && !USER_FLAGS.contains(&arg.get_id().as_str()))
        .map(|arg| arg.clone().hide(true))
        .collect();
    // A subcommand that already has an argument of a global's id keeps its
    // own: these hidden copies, which parse the same values as before.
    root.mut_subcommand("user", |user| user.args(server_only))
}

/// Parses the process's arguments (exits with clap's message on an error).
/// The command line; a bad value names the environment variable it came
/// from when it did not come from a flag.
pub(crate) fn parse() -> Cli {
    let given: Vec<String> = std::env::args().collect();
    let command = command();
    command
        .clone()
        .try_get_matches_from(&given)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|error| {
            wsauth_server::config::name_the_variable(error, &command, &given).exit()
        })
}

/// Writes the completion script for `shell` to stdout.
pub(crate) fn print_completions(shell: clap_complete::Shell) {
    let mut command = command();
    clap_complete::generate(shell, &mut command, "wsauth", &mut std::io::stdout());
}

/// Writes wsauth(1) to stdout, or every page into `dir`.
pub(crate) fn write_man(dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        Some(dir) => clap_mangen::generate_to(command(), dir),
        None => clap_mangen::Man::new(command()).render(&mut std::io::stdout()),
    }
}
