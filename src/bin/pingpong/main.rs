//! The `pingpong` command: parses arguments (see [`cli`]) and calls the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a peer closing a socket is an
    // error to handle. The reader of our output going away
    // (`pingpong discover --watch | head`) ends the process quietly: see
    // `cli::output::say`.
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Server(_) | Command::Web(_)));
    let runtime = match cli.command.runtime().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
                false,
            )
        }
    };
    let json = matches!(&cli.command, Command::Client(c) if c.ping.json);
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => fail(&error, json),
    }
}

fn fail(error: &anyhow::Error, json: bool) -> ExitCode {
    let message = format!("{error:#}");
    if json {
        println!(
            "{}",
            serde_json::json!({ "event": "error", "message": message })
        );
    }
    eprintln!("pingpong: error: {message}");
    ExitCode::from(2)
}

fn init_logging(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Under systemd, stderr goes to the journal, which stamps every line
    // itself (JOURNAL_STREAM is how systemd says so).
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
