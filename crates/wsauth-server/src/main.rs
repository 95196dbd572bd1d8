//! `wsauth`: serve (the default), or manage users.

use std::process::ExitCode;
use wsauth_server::{Application, Config, telemetry};

mod cli;
mod user_commands;
mod user_rights;
use cli::Command;

/// mimalloc rather than the C library's allocator: a handshake allocates and
/// frees about ninety blocks, and with glibc that was a tenth of the server's
/// core (BENCHMARKS.md, "What limits handshakes"); an idle socket also
/// costs less with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Errors are the operator's to fix: each is printed once, its causes on
/// the same line, without a backtrace (those are for panics).
#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {}", once_each(&error));
            ExitCode::FAILURE
        }
    }
}

/// `error` and its causes, each said once: a cause whose text its
/// context already carries is left out.
fn once_each(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain().map(ToString::to_string) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    // Generated from the definitions alone: no configuration is read.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            cli::print_completions(*shell);
            return Ok(());
        }
        Some(Command::Man { dir }) => return Ok(cli::write_man(dir.as_deref())?),
        _ => {}
    }
    let config = wsauth_server::app::load_config(cli.config.as_deref(), &cli.overrides)?;
    telemetry::init(&config.log, config.log_format);
    for setting in config.deprecated_settings() {
        tracing::warn!(setting = setting.old, replacement = setting.new, "{setting}");
    }
    for variable in Config::unread_variables() {
        tracing::warn!(variable = %variable.name, "{variable}");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::User { action } => user_commands::run(config, action).await,
        Command::Completions { .. } | Command::Man { .. } => Ok(()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing sockets with 1001");
        shutdown.cancel();
    });
    println!("wsauth listening on http://{}", app.local_addr());
    app.run().await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
