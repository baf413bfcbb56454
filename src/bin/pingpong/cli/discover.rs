//! `pingpong discover`: the servers that can be seen, once, watched, or probed
//! (once, or every `--probe-interval` while watching); with `--type`, the
//! services of any type (shown by `services.rs`), and with `--all-types` the
//! types present (`service_types.rs`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use futures::future::BoxFuture;

use pingpong::client::probe::{probe_all, ProbeResult};
use pingpong::client::report;
use pingpong::client::Connector;
use pingpong::discovery::dns::DnsLookupError;
use pingpong::discovery::mdns::types::SERVICE_TYPES;
use pingpong::discovery::mdns::SERVICE_TYPE;
use pingpong::discovery::{Candidate, Discovery, DiscoveryEvent, SourceEvent};
use pingpong::tls::LeafRole;

use super::args::{parse_positive_seconds, parse_service_type, FamilyArgs, SourceArgs, TlsArgs};
use super::output::say;
use super::output::timestamp;
use super::service_types::{self, TypeListing};
use super::services;

#[derive(Args)]
pub(crate) struct DiscoverArgs {
    /// Seconds to listen before printing the snapshot.
    #[arg(long = "discover-timeout", alias = "timeout", default_value = "2", value_parser = parse_positive_seconds)]
    timeout: Duration,
    /// Keep running and print servers as they appear (+), change (=) and leave
    /// (-, with the reason: goodbye, reconfirm failed, TTL expired).
    #[arg(long)]
    watch: bool,
    /// Output JSON: an array (snapshot) or one object per line (--watch).
    #[arg(long)]
    json: bool,
    /// Connect to each server found (mTLS + Hello, like the client) and show the
    /// handshake time or why it is unusable. With --watch, every
    /// --probe-interval: a server that cannot be reached is reconfirmed over
    /// mDNS, and leaves every view on the link within seconds if it is gone.
    #[arg(long)]
    probe: bool,
    /// Seconds between probe rounds with --watch --probe.
    #[arg(long, default_value = "10", value_parser = parse_positive_seconds, requires = "probe")]
    probe_interval: Duration,
    /// Browse this service type instead of pingpong's: `_http._tcp`,
    /// `_printer._sub._http._tcp` (a subtype); `_services._dns-sd._udp` lists
    /// the types present.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_service_type)]
    service_type: Option<String>,
    /// List the service types present (as --type _services._dns-sd._udp).
    #[arg(long, conflicts_with = "service_type")]
    all_types: bool,
    /// Print the first one found and stop.
    #[arg(short = '1', long, conflicts_with = "watch")]
    first: bool,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs `pingpong discover`.
pub(crate) async fn run(args: DiscoverArgs) -> Result<ExitCode> {
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let service_type = match (&args.service_type, args.all_types) {
        (_, true) => SERVICE_TYPES.to_string(),
        (Some(service_type), _) => service_type.clone(),
        (None, false) => SERVICE_TYPE.to_string(),
    };
    let pingpong = service_type == SERVICE_TYPE;
    if args.probe && !pingpong {
        anyhow::bail!(
            "--probe connects as a pingpong client, and {service_type} is another service type: drop --probe"
        );
    }
    if service_type == SERVICE_TYPES {
        let listing = TypeListing {
            watch: args.watch,
            json: args.json,
            first: args.first,
            listen_for: args.timeout,
            interfaces: &args.sources.mdns.interfaces,
        };
        return service_types::run(listing, stop).await;
    }
    let config = args.sources.config_for(&service_type);
    let connector = if args.probe {
        Some(
            Connector::new(&args.tls.material(LeafRole::Client)?, None)?
                .with_connect_timeout(PROBE_TIMEOUT)
                .with_family(args.family.family()),
        )
    } else {
        None
    };
    let mut discovery = Discovery::start(&config)?;
    let listen_for = args.sources.patience(&config, args.timeout);
    let deadline = tokio::time::Instant::now() + listen_for;
    let mut seen: Vec<Candidate> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    // Lookups that failed outright (not records skipped): with nothing found,
    // they are the answer, and an error, as for the client.
    let mut failures: Vec<String> = Vec::new();
    if !args.watch && !args.json {
        eprintln!("pingpong: listening for {listen_for:?}...");
    }
    // With --watch --probe: the next round, and the one under way.
    let mut next_round = tokio::time::Instant::now() + args.probe_interval;
    let mut round: Option<BoxFuture<'_, Vec<(Candidate, ProbeResult)>>> = None;
    let watch_probes = args.watch && connector.is_some();
    loop {
        let next = tokio::select! {
            next = discovery.next() => next,
            _ = tokio::time::sleep_until(deadline), if !args.watch => None,
            _ = tokio::time::sleep_until(next_round), if watch_probes && round.is_none() => {
                let connector = connector.as_ref().expect("probing");
                let servers = seen.clone();
                round = Some(Box::pin(async move {
                    let results = probe_all(connector, &servers).await;
                    servers.into_iter().zip(results).collect()
                }));
                continue;
            }
            results = async { round.as_mut().expect("a round").await }, if round.is_some() => {
                round = None;
                next_round = tokio::time::Instant::now() + args.probe_interval;
                for (candidate, result) in results {
                    say_probe(&candidate, &result, args.json);
                    if unreachable(&result) {
                        discovery.report_failure(&candidate);
                    }
                }
                continue;
            }
            _ = stop.cancelled() => None,
        };
        let event = match next {
            None => break,
            Some(SourceEvent::Problem(problem)) => {
                let at = timestamp();
                if args.watch && args.json {
                    say!(
                        "{}",
                        serde_json::json!({"event": "problem", "time": at, "message": problem.to_string()})
                    );
                } else if args.watch {
                    say!("! {at} warning: {problem}");
                }
                if !matches!(problem, DnsLookupError::Ignored(_)) {
                    failures.push(problem.to_string());
                }
                warnings.push(problem.to_string());
                continue;
            }
            Some(SourceEvent::Event(event)) => event,
            // DNS sources alone: the snapshot is complete once each answered.
            Some(SourceEvent::Settled) => {
                if !args.watch && config.mdns.is_none() && discovery.dns_settled() {
                    break;
                }
                continue;
            }
        };
        if args.watch {
            let at = timestamp();
            if args.json && pingpong {
                say!("{}", report::discovery_event_json(&event, &at));
            } else if args.json {
                say!("{}", services::event_json(&event, &service_type, &at));
            } else {
                let why = match &event {
                    DiscoveryEvent::Removed(_, reason) => format!(" ({reason})"),
                    _ => String::new(),
                };
                let line = if pingpong {
                    report::candidate_line(event.candidate())
                } else {
                    services::line(event.candidate())
                };
                say!("{} {at} {line}{why}", report::event_sign(&event));
            }
            std::io::stdout().flush().ok();
        }
        let key = event.candidate().key.clone();
        seen.retain(|c| c.key != key);
        if !matches!(event, DiscoveryEvent::Removed(..)) {
            // -4 / -6: only the addresses of that version.
            let mut candidate = event.candidate().clone();
            let family = args.family.family();
            candidate.addresses.retain(|a| family.allows(a));
            seen.push(candidate);
            if args.first {
                break;
            }
        }
    }
    drop(round);
    if !args.watch && seen.is_empty() && !failures.is_empty() {
        discovery.shutdown();
        failures.dedup();
        anyhow::bail!("no server found: {}", failures.join("; "));
    }
    if args.watch {
        discovery.shutdown();
        if let Some(connector) = &connector {
            connector.shutdown().await;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        for warning in &warnings {
            eprintln!("pingpong: warning: {warning}");
        }
    }
    seen.sort_by(|a, b| a.instance.cmp(&b.instance));
    let probes = match &connector {
        Some(connector) => {
            let probes = probe_all(connector, &seen).await;
            // What could not be reached is reconfirmed, so that every view on
            // the link drops it if it is gone (the first query goes out now).
            for (candidate, result) in seen.iter().zip(&probes) {
                if unreachable(result) {
                    discovery.report_failure(candidate);
                }
            }
            // The probes' closes leave before the process exits.
            connector.shutdown().await;
            Some(probes)
        }
        None => None,
    };
    discovery.shutdown();
    if args.json {
        let all: Vec<_> = seen
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if !pingpong {
                    return services::json(c, &service_type);
                }
                let mut value = report::candidate_json(c);
                if let Some(probes) = &probes {
                    value["probe"] = probes[i].json();
                }
                value
            })
            .collect();
        say!("{}", serde_json::Value::Array(all));
    } else {
        if seen.is_empty() && pingpong {
            say!("no pingpong servers found within {listen_for:?}");
        } else if seen.is_empty() {
            say!("no {service_type} services found within {listen_for:?}");
        } else if !pingpong {
            for row in services::table(&seen) {
                say!("{row}");
            }
        } else {
            let probe_cells: Option<Vec<String>> = probes
                .as_ref()
                .map(|p| p.iter().map(|r| r.text()).collect());
            let extra = probe_cells.as_deref().map(|cells| ("PROBE", cells));
            for row in report::candidate_table(&seen, extra) {
                say!("{row}");
            }
        }
        for warning in &warnings {
            say!("warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How long one probe may take: a live server on a LAN answers in
/// milliseconds; two seconds leave room for a loaded one.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a probe found the server unreachable (not draining: a draining
/// server is not probed, and it is alive).
fn unreachable(result: &ProbeResult) -> bool {
    matches!(result, ProbeResult::Unusable(_))
}

/// One probe result while watching: `?` and the time, the server, the result.
fn say_probe(candidate: &Candidate, result: &ProbeResult, json: bool) {
    let at = timestamp();
    if json {
        say!(
            "{}",
            serde_json::json!({"event": "probe", "time": at, "name": candidate.key,
                "instance": candidate.instance, "probe": result.json()})
        );
    } else {
        say!("? {at} {} {}", candidate.instance, result.text());
    }
    std::io::stdout().flush().ok();
}
