//! Discover a pingpong server over mDNS and ping it from your own program, with
//! recovery (reconnect, fail over, resend) as the CLI does.
//!
//! ```sh
//! cargo run --example embedded_client
//! ```

use std::time::Duration;

use pingpong::client::find::Finder;
use pingpong::client::recovery::{ping_with_recovery, Recovery, RecoveryObserver, Target};
use pingpong::client::run::Liveness;
use pingpong::client::{ClientError, ClientSession, Connector, PingEvent, PingOptions, PingRun};
use pingpong::discovery::mdns::SERVICE_TYPE;
use pingpong::discovery::{Candidate, Discovery, DiscoveryConfig, MdnsBrowse};
use pingpong::tls::{default_home, store, CertPaths, LeafRole, TlsMaterial};
use tokio_util::sync::CancellationToken;

/// Prints what happens.
struct Print;

impl RecoveryObserver for Print {
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool) {
        let verb = if reconnect {
            "reconnected to"
        } else {
            "connected to"
        };
        println!(
            "{verb} {:?} at {} via {}",
            session.welcome().instance,
            candidate.url(),
            candidate.source
        );
    }
    fn ping_event(&mut self, event: &PingEvent) {
        if let PingEvent::Pong { seq, rtt, .. } = event {
            println!("pong seq={seq} rtt={rtt:?}");
        }
    }
    fn session_lost(&mut self, error: &ClientError) {
        println!("session lost: {error}");
    }
    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError) {
        println!("skipping {}: {error}", candidate.instance);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pki = CertPaths::new(default_home());
    store::ensure_development_pki(&pki, LeafRole::Client)?;
    let connector = Connector::new(&TlsMaterial::from_dir(&pki, LeafRole::Client), None)?;

    let discovery = Discovery::start(&DiscoveryConfig {
        mdns: Some(MdnsBrowse {
            service_type: SERVICE_TYPE.into(),
            interfaces: Vec::new(),
        }),
        ..DiscoveryConfig::default()
    })?;
    let mut target = Target::Discovered {
        finder: Finder::new(discovery),
        discover_timeout: Duration::from_secs(5),
    };

    let options = PingOptions {
        count: Some(3),
        interval: Duration::from_millis(100),
        liveness: Liveness::Adaptive,
        ..PingOptions::default()
    };
    let mut run = PingRun::new(&options);
    let stop = CancellationToken::new();
    ping_with_recovery(
        &connector,
        &mut target,
        &mut run,
        &stop,
        Recovery {
            give_up_after: Duration::from_secs(10),
            standby: 0,
            // Move to a server that joins discovery, with probability 1/N.
            rebalance: true,
        },
        &mut Print,
    )
    .await?;
    let summary = run.summary();
    println!(
        "{} of {} answered, {} reconnects",
        summary.received, summary.transmitted, summary.reconnects
    );
    if summary.lost > 0 {
        return Err("pings were lost".into());
    }
    Ok(())
}
