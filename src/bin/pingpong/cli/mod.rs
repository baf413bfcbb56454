//! The command line, one file per command. The parts:
//! - [`args`]: the flags several commands share (certificates, discovery
//!   sources, ping options) and their value parsers;
//! - [`output`]: what a ping run prints as it goes (ping(8)-style or JSON);
//! - [`register`]: the flags of wide-area registration (server, `dns`);
//! - [`server`], [`client`], [`discover`], [`demo`], [`web`], [`publish`],
//!   [`certs`], [`dns`]: each command's flags and what it does, through the
//!   library;
//! - [`services`], [`service_types`]: how `discover --type` shows services
//!   of any type, and `discover --all-types` the types present;
//! - [`systemd`]: readiness, stopping and watchdog for a `Type=notify` unit;
//! - [`completions`], [`man`]: shell completions and manual pages, generated
//!   from these definitions.

pub(crate) mod args;
pub(crate) mod certs;
pub(crate) mod client;
pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod discover;
pub(crate) mod dns;
pub(crate) mod man;
pub(crate) mod output;
pub(crate) mod publish;
#[cfg(test)]
mod readme_tests;
pub(crate) mod register;
pub(crate) mod server;
pub(crate) mod service_types;
pub(crate) mod services;
#[cfg(unix)]
pub(crate) mod systemd;
pub(crate) mod web;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

/// Zero-config peer discovery with a mutually-authenticated WebTransport ping-pong.
#[derive(Parser)]
#[command(name = "pingpong", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a server, answering pings over mTLS WebTransport.
    Server(server::ServerArgs),
    /// Ping a server: the one given, or the first one discovered.
    Client(client::ClientArgs),
    /// List the servers that can be seen (mDNS, DNS SRV/DNS-SD), once or as they come and go.
    Discover(discover::DiscoverArgs),
    /// Run a server and a client in one process: a complete mTLS ping-pong, no setup.
    Demo(demo::DemoArgs),
    /// A live dashboard in the browser: discovers servers, pings each over mTLS once a second.
    Web(web::WebArgs),
    /// Announce a service of any type over mDNS until stopped (like avahi-publish -s).
    Publish(publish::PublishArgs),
    /// Make a CA and issue server and client certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Look after the DNS zone servers register in (`server --register-dns`).
    #[command(subcommand)]
    Dns(dns::DnsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write the manual pages (pingpong.1 and one per command) to a folder.
    Man(man::ManArgs),
}

impl Command {
    /// The async runtime this command runs on.
    ///
    /// A client is one conversation at a time, as ping(8) is: on a
    /// `current_thread` runtime its ping loop, quinn's connection driver and
    /// the UDP socket share one thread, so a round trip wakes one thread in the
    /// process. On a multi-thread runtime the loop (in `block_on`, on the main
    /// thread) and the driver (on a worker) are on different threads, and every
    /// ping crossed between them several times: 86 µs a sequential round trip
    /// on loopback against 16 µs, and half the pipelined rate (see
    /// docs/performance.md). `discover`, the demo (one server, one client) and
    /// the command-line tools are as light. The server and the dashboard serve
    /// many sessions at once, whose handshakes use every core: they keep a
    /// worker per core (a server on a `current_thread` runtime measured the
    /// same per ping, so this costs a ping nothing).
    pub(crate) fn runtime(&self) -> tokio::runtime::Builder {
        match self {
            Command::Server(_) | Command::Web(_) => tokio::runtime::Builder::new_multi_thread(),
            Command::Client(_)
            | Command::Discover(_)
            | Command::Demo(_)
            | Command::Publish(_)
            | Command::Certs(_)
            | Command::Dns(_)
            | Command::Completions(_)
            | Command::Man(_) => tokio::runtime::Builder::new_current_thread(),
        }
    }
}

/// Runs the command.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Server(args) => server::run(args).await,
        Command::Client(args) => client::run(args).await,
        Command::Discover(args) => discover::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Web(args) => web::run(args).await,
        Command::Publish(args) => publish::run(args).await,
        Command::Certs(cmd) => certs::run(cmd),
        Command::Dns(cmd) => dns::run(cmd).await,
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => man::run(args, Cli::command()),
    }
}
