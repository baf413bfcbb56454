//! `pingpong client`: ping a server, given or discovered, through failures.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;

use pingpong::client::find::Finder;
use pingpong::client::recovery::{ping_with_recovery, Recovery, Target};
use pingpong::client::report;
use pingpong::client::run::Liveness;
use pingpong::client::{ClientError, Connector, PingRun, PingSummary};
use pingpong::discovery::{parse_target, Discovery, DiscoveryConfig};
use pingpong::tls::LeafRole;

use super::args::{
    parse_positive_seconds, parse_seconds, FamilyArgs, PingArgs, SourceArgs, TlsArgs,
};
use super::output::{say, Printer};

#[derive(Args)]
pub(crate) struct ClientArgs {
    /// Server: https://HOST:PORT/PATH, HOST:PORT or HOST (port 4433, path /pingpong).
    /// Several: the first that answers, failing over to the others as to
    /// discovered servers. Without one, a server is discovered (mDNS, or --dns /
    /// --dns-sd).
    #[arg(value_name = "URL")]
    urls: Vec<String>,
    /// Seconds to wait for a server to be discovered (connects as soon as one is).
    #[arg(long, default_value = "2", value_parser = parse_positive_seconds)]
    discover_timeout: Duration,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    pub(crate) ping: PingArgs,
    /// Name the server certificate must carry (default: the host connected to).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Seconds to keep trying to get a session back after losing one (0: do
    /// not reconnect).
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    reconnect_timeout: Duration,
    /// Idle sessions kept open to the next-best discovered server, so that a
    /// failover costs no handshake (0 or 1; 0 opens one only when the session
    /// turns suspect).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=1))]
    standby: u8,
    /// Stay on the server the session has: do not move to a discovered server
    /// that joins (by default a joining server draws each client with
    /// probability 1/N, so that new and restarted servers get their share).
    #[arg(long)]
    no_rebalance: bool,
    /// Seconds allowed to connect and complete the handshake.
    #[arg(long, default_value = "5", value_parser = parse_positive_seconds)]
    connect_timeout: Duration,
    #[command(flatten)]
    family: FamilyArgs,
    /// Protocol version offered in Hello (for testing servers).
    #[arg(long, hide = true)]
    protocol_version: Option<u16>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs `pingpong client`.
pub(crate) async fn run(args: ClientArgs) -> Result<ExitCode> {
    // Bad targets are said before anything is created or opened.
    for url in &args.urls {
        args.family.check_target(&parse_target(url)?)?;
    }
    let material = args.tls.material(LeafRole::Client)?;
    let mut connector = Connector::new(&material, args.server_name.as_deref())?
        .with_connect_timeout(args.connect_timeout);
    if let Some(version) = args.protocol_version {
        connector = connector.with_protocol_version(version);
    }
    connector = connector.with_family(args.family.family());
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let target = match args.urls.as_slice() {
        [url] => Target::Fixed(parse_target(url)?),
        [_, _, ..] => {
            let config = DiscoveryConfig {
                fixed: args
                    .urls
                    .iter()
                    .map(|url| parse_target(url))
                    .collect::<Result<_, _>>()?,
                ..DiscoveryConfig::default()
            };
            Target::Discovered {
                finder: Finder::new(Discovery::start(&config)?),
                discover_timeout: args.discover_timeout,
            }
        }
        [] => {
            let config = args.sources.config();
            let discover_timeout = args.sources.patience(&config, args.discover_timeout);
            Target::Discovered {
                finder: Finder::new(Discovery::start(&config)?),
                discover_timeout,
            }
        }
    };
    let recovery = Recovery {
        give_up_after: args.reconnect_timeout,
        standby: usize::from(args.standby),
        rebalance: !args.no_rebalance,
    };
    let result = ping_target(&connector, target, &args.ping, recovery, &stop).await;
    connector.shutdown().await;
    Ok(exit_code(&result?))
}

/// How a run ended: its figures, and whether it gave up (no server after a
/// lost session), which leaves pings undelivered.
pub(crate) struct RunEnd {
    summary: PingSummary,
    gave_up: bool,
}

/// Pings `target` as `ping` says, reconnecting through failures, printing as it
/// goes; prints the summary.
pub(crate) async fn ping_target(
    connector: &Connector,
    mut target: Target,
    ping: &PingArgs,
    recovery: Recovery,
    stop: &CancellationToken,
) -> Result<RunEnd> {
    let mut options = ping.options();
    if !recovery.give_up_after.is_zero() {
        // A session that stops answering is suspect, then stalled, by its own
        // round trips (see client::suspicion): hedge, then switch or reconnect.
        options.liveness = Liveness::Adaptive;
    }
    let mut run = PingRun::new(&options);
    let mut printer = Printer::new(
        ping.json,
        ping.per_ping(),
        ping.size as usize,
        options.interval,
    );
    let result = ping_with_recovery(
        connector,
        &mut target,
        &mut run,
        stop,
        recovery,
        &mut printer,
    )
    .await;
    target.shutdown();
    printer.flush();
    let summary = run.summary();
    if summary.transmitted == 0 && printer.remote.is_none() {
        // Never connected: the error alone says it.
        result?;
        return Ok(RunEnd {
            summary,
            gave_up: false,
        });
    }
    if ping.json {
        say!("{}", report::summary_json(&summary));
    } else {
        say!();
        for line in report::summary_lines(&printer.url, &summary) {
            say!("{line}");
        }
    }
    match result {
        // The pings it could not deliver are counted lost in the summary:
        // exit 1, as for any lost ping, with the reason on one line.
        Err(error @ ClientError::GaveUp { .. }) => {
            if ping.json {
                say!(
                    "{}",
                    serde_json::json!({"event": "gave_up", "message": error.to_string()})
                );
            }
            eprintln!("pingpong: {error}");
            Ok(RunEnd {
                summary,
                gave_up: true,
            })
        }
        result => result
            .map(|()| RunEnd {
                summary,
                gave_up: false,
            })
            .map_err(Into::into),
    }
}

/// The README's exit status: 0 when every ping was answered, 1 when some were
/// lost (or could not be sent because the client gave up).
pub(crate) fn exit_code(end: &RunEnd) -> ExitCode {
    let summary = &end.summary;
    if !end.gave_up && summary.lost == 0 && summary.received == summary.transmitted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
