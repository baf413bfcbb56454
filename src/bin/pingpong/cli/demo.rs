//! `pingpong demo`: a server and a client in one process, found over mDNS.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use pingpong::client::recovery::Target;
use pingpong::client::Connector;
use pingpong::discovery::mdns::{Browser, SERVICE_TYPE};
use pingpong::discovery::{parse_target, DiscoveryEvent};
use pingpong::server::{MdnsOptions, Server, ServerConfig};
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};

use super::args::{parse_seconds, PingArgs};
use super::client::{exit_code, ping_target};
use super::output::say;
use pingpong::client::recovery::Recovery;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Number of pings.
    #[arg(short = 'c', long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Seconds between pings.
    #[arg(short = 'i', long, default_value = "0.2", value_parser = parse_seconds)]
    interval: Duration,
}

/// How long the demo waits for mDNS to find its own server: registration
/// probing takes about a second.
pub(crate) const DEMO_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs `pingpong demo`.
pub(crate) async fn run(args: DemoArgs) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("pingpong-demo-")
        .tempdir()?;
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "pingpong demo CA", 1)?;
    say!(
        "demo: throwaway CA, server and client certificates in {}",
        dir.path().display()
    );

    let mut config = ServerConfig::new(TlsMaterial::from_dir(&paths, LeafRole::Server));
    config.listen = "[::]:0".parse()?;
    config.instance = format!("pingpong-demo-{}", std::process::id());
    config.mdns = Some(MdnsOptions::default());
    let server = Server::bind(config)?;
    let addr = server.local_addr();
    let server_id = server.info().server_id;
    say!(
        "demo: server listening on port {} and advertising {} over mDNS (it requires a client certificate from the demo CA)",
        addr.port(),
        server.mdns_name().unwrap_or_default()
    );
    let shutdown = pingpong::shutdown::on_signals()?;
    let server_task = tokio::spawn(server.run(shutdown.child_token()));

    let connector = Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None)?;
    let (browser, mut events) = Browser::start(SERVICE_TYPE, &[])?;
    let deadline = tokio::time::Instant::now() + DEMO_DISCOVERY_TIMEOUT;
    let mut found = None;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let DiscoveryEvent::Added(c) | DiscoveryEvent::Updated(c) = event {
            if c.txt.as_ref().and_then(|t| t.server_id) == Some(server_id) {
                found = Some(c);
                break;
            }
        }
    }
    browser.shutdown();
    let candidate = match found {
        Some(candidate) => {
            say!(
                "demo: found {} over mDNS at {}",
                candidate.instance,
                candidate.url()
            );
            candidate
        }
        None => {
            say!(
                "demo: mDNS did not find the server within {DEMO_DISCOVERY_TIMEOUT:?} (no multicast-capable network interface?); connecting to 127.0.0.1:{} directly",
                addr.port()
            );
            parse_target(&format!("https://localhost:{}/pingpong", addr.port()))?
        }
    };
    let ping = PingArgs {
        count: args.count,
        interval: Some(args.interval),
        size: 56,
        timeout: Duration::from_secs(2),
        in_flight: 64,
        json: false,
        quiet: false,
        flood: false,
    };
    let result = ping_target(
        &connector,
        Target::Fixed(candidate),
        &ping,
        Recovery {
            give_up_after: Duration::from_secs(5),
            standby: 0,
            rebalance: false,
        },
        &shutdown,
    )
    .await;
    connector.shutdown().await;
    shutdown.cancel();
    let _ = server_task.await;
    Ok(exit_code(&result?))
}
