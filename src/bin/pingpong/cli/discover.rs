//! `pingpong discover`: the servers that can be seen, once, watched, or probed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use pingpong::client::probe::probe_all;
use pingpong::client::report;
use pingpong::client::Connector;
use pingpong::discovery::dns::DnsLookupError;
use pingpong::discovery::{Candidate, Discovery, DiscoveryEvent, SourceEvent};
use pingpong::tls::LeafRole;

use super::args::{parse_positive_seconds, FamilyArgs, SourceArgs, TlsArgs};
use super::output::say;
use super::output::timestamp;

#[derive(Args)]
pub(crate) struct DiscoverArgs {
    /// Seconds to listen before printing the snapshot.
    #[arg(long = "discover-timeout", alias = "timeout", default_value = "2", value_parser = parse_positive_seconds)]
    timeout: Duration,
    /// Keep running and print servers as they appear (+), change (=) and leave (-).
    #[arg(long)]
    watch: bool,
    /// Output JSON: an array (snapshot) or one object per line (--watch).
    #[arg(long)]
    json: bool,
    /// Connect to each server found (mTLS + Hello, like the client) and show the
    /// handshake time or why it is unusable.
    #[arg(long, conflicts_with = "watch")]
    probe: bool,
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
    let config = args.sources.config();
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
    loop {
        let next = tokio::select! {
            next = discovery.next() => next,
            _ = tokio::time::sleep_until(deadline), if !args.watch => None,
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
            if args.json {
                say!("{}", report::discovery_event_json(&event, &at));
            } else {
                say!(
                    "{} {at} {}",
                    report::event_sign(&event),
                    report::candidate_line(event.candidate())
                );
            }
            std::io::stdout().flush().ok();
        }
        let key = event.candidate().key.clone();
        seen.retain(|c| c.key != key);
        if !matches!(event, DiscoveryEvent::Removed(_)) {
            // -4 / -6: only the addresses of that version.
            let mut candidate = event.candidate().clone();
            let family = args.family.family();
            candidate.addresses.retain(|a| family.allows(a));
            seen.push(candidate);
        }
    }
    discovery.shutdown();
    if !args.watch && seen.is_empty() && !failures.is_empty() {
        failures.dedup();
        anyhow::bail!("no server found: {}", failures.join("; "));
    }
    if !args.watch {
        for warning in &warnings {
            if args.json {
                eprintln!("pingpong: warning: {warning}");
            }
        }
    }
    if !args.watch {
        seen.sort_by(|a, b| a.instance.cmp(&b.instance));
        let probes = if args.probe {
            let connector = Connector::new(&args.tls.material(LeafRole::Client)?, None)?
                .with_connect_timeout(Duration::from_secs(2))
                .with_family(args.family.family());
            Some(probe_all(&connector, &seen).await)
        } else {
            None
        };
        if args.json {
            let all: Vec<_> = seen
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut value = report::candidate_json(c);
                    if let Some(probes) = &probes {
                        value["probe"] = probes[i].json();
                    }
                    value
                })
                .collect();
            say!("{}", serde_json::Value::Array(all));
        } else {
            if seen.is_empty() {
                say!("no pingpong servers found within {listen_for:?}");
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
    }
    Ok(ExitCode::SUCCESS)
}
