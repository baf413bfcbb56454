//! `pingpong server`: serve pings over mTLS WebTransport, advertised over mDNS.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use pingpong::server::{MdnsOptions, Server, ServerConfig};
use pingpong::tls::LeafRole;

use super::args::{parse_listen, parse_path, parse_seconds, MdnsArgs, TlsArgs};
use super::output::say;
use super::register::RegisterArgs;
#[cfg(unix)]
use super::systemd;

#[derive(Args)]
pub(crate) struct ServerArgs {
    /// Address to listen on (UDP): IP:PORT or HOST:PORT. `[::]` is dual-stack
    /// and falls back to 0.0.0.0.
    #[arg(long, default_value_t = pingpong::server::config::DEFAULT_LISTEN, value_parser = parse_listen)]
    listen: SocketAddr,
    /// WebTransport path of the service; other paths get 404.
    #[arg(long, default_value = pingpong::service::DEFAULT_PATH, value_parser = parse_path)]
    path: String,
    /// Instance name sent to clients and advertised (default: the host name's
    /// first label; over mDNS without '.' or '\').
    #[arg(long)]
    instance: Option<String>,
    /// Do not advertise over mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Serve /healthz, /readyz and /metrics (Prometheus) over HTTP on ADDR.
    /// `[::]:PORT` is dual-stack and falls back to 0.0.0.0.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Most sessions served at once; more clients get "server full".
    #[arg(long, default_value_t = pingpong::server::config::DEFAULT_MAX_SESSIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_sessions: usize,
    /// Seconds a draining server (SIGTERM/SIGINT) gives its sessions to move.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    drain_timeout: Duration,
    /// Serve only clients whose certificate carries NAME as its common name or
    /// a subject alternative name (repeatable; default: any client of the CA).
    #[arg(long = "allow-client", value_name = "NAME")]
    allow_clients: Vec<String>,
    #[command(flatten)]
    mdns: MdnsArgs,
    #[command(flatten)]
    register: RegisterArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs `pingpong server`.
pub(crate) async fn run(args: ServerArgs) -> Result<ExitCode> {
    let mut config = ServerConfig::new(args.tls.material(LeafRole::Server)?);
    config.listen = args.listen;
    config.path = args.path;
    if let Some(instance) = args.instance {
        config.instance = instance;
    }
    config.drain_timeout = args.drain_timeout;
    #[cfg(unix)]
    let drain_timeout = args.drain_timeout;
    config.max_sessions = args.max_sessions;
    config.metrics = args.metrics;
    config.allowed_clients = args.allow_clients;
    if !args.no_mdns {
        config.mdns = Some(MdnsOptions {
            interfaces: args.mdns.interfaces,
            ..MdnsOptions::default()
        });
    }
    config.register = args.register.options()?;
    let shutdown = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let server = Server::bind(config)?;
    say!(
        "pingpong server listening on {} path {} instance {:?} cert sha256:{}",
        server.local_addr(),
        server.path(),
        server.info().instance,
        server.fingerprint()
    );
    if let Some(name) = server.mdns_name() {
        say!("pingpong server advertising {name} over mDNS");
    }
    if let Some(addr) = server.metrics_addr() {
        say!("pingpong server metrics on http://{addr}/metrics (and /healthz, /readyz)");
    }
    std::io::stdout().flush().ok();
    // systemd's notify protocol (Unix): nothing to tell on Windows.
    #[cfg(unix)]
    {
        systemd::ready(&format!(
            "serving on {} as {:?}",
            server.local_addr(),
            server.info().instance
        ));
        systemd::watch(shutdown.clone(), drain_timeout);
    }
    server.run(shutdown).await;
    say!("pingpong server stopped");
    Ok(ExitCode::SUCCESS)
}
