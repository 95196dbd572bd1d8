//! `wsauth`: serve (the default), or manage users.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use wsauth_server::accounts::{Accounts, HashingLimits};
use wsauth_server::{Application, Config, Overrides, db, files, telemetry};

#[derive(Parser)]
#[command(name = "wsauth", version, about = "Authenticated WebSocket server")]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "WSAUTH_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and WebSocket (the default).
    Serve,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add an account; the password is read from a prompt, or from stdin.
    Add {
        /// The username.
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), &cli.overrides)?;
    telemetry::init(&config.log, config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::User { action: UserAction::Add { name } } => add_user(config, &name).await,
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

async fn add_user(config: Config, name: &str) -> anyhow::Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    files::private_dir(&config.data_dir)?;
    let pool = db::open(&config.data_dir).await?;
    let now = wsauth::Clock::now(&wsauth::SystemClock);
    Accounts::new(pool, HashingLimits::single())
        .create(name, &password, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("added user {name}");
    Ok(())
}
