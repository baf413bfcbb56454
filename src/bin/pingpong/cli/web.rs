//! `pingpong web`: the local dashboard agent.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use pingpong::client::Connector;
use pingpong::tls::LeafRole;
use pingpong::web::{WebAgent, WebConfig};

use super::args::{parse_listen, FamilyArgs, SourceArgs, TlsArgs};
use super::output::say;

#[derive(Args)]
pub(crate) struct WebArgs {
    /// Address of the dashboard page (HTTP); the live updates use a UDP port on
    /// the same address.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Serve other machines too (the address is not loopback). The token still
    /// guards the live data, but the page travels over plain HTTP.
    #[arg(long)]
    allow_remote: bool,
    /// Serve /metrics (Prometheus: pings sent and lost, sessions, RTT per
    /// server) over HTTP on ADDR.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    metrics: Option<SocketAddr>,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs `pingpong web`.
pub(crate) async fn run(args: WebArgs) -> Result<ExitCode> {
    let material = args.tls.material(LeafRole::Client)?;
    let connector = Connector::new(&material, None)?.with_family(args.family.family());
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let agent = WebAgent::bind(
        WebConfig {
            listen: args.listen,
            allow_remote: args.allow_remote,
            discovery: args.sources.config(),
            metrics: args.metrics,
        },
        connector,
    )?;
    say!("pingpong web: open {}", agent.url());
    if let Some(addr) = agent.metrics_addr() {
        say!("pingpong web metrics on http://{addr}/metrics");
    }
    say!("pingpong web: the token in this URL changes at every start; Ctrl-C stops the agent");
    std::io::stdout().flush().ok();
    agent.run(stop).await?;
    Ok(ExitCode::SUCCESS)
}
