//! `pingpong dns prune ZONE`: lists the instances registered in a DNS zone,
//! probes each as a client would, and (with `--apply`) deletes those that
//! fail: a crashed server's records otherwise stay until it returns.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use pingpong::client::probe::{probe, ProbeResult};
use pingpong::client::{report, Connector};
use pingpong::discovery::register::{find_primary, prune, zone_name};
use pingpong::tls::LeafRole;

use super::args::TlsArgs;
use super::output::say;
use super::register::parse_zone;
use super::register::UpdateServerArgs;

/// How long each probe may take: a live server answers in milliseconds;
/// two seconds covers a loaded one and a lost packet.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Subcommand)]
pub(crate) enum DnsCommand {
    /// Delete the instances in ZONE that do not answer (dry run unless --apply).
    Prune(PruneArgs),
}

#[derive(Args)]
pub(crate) struct PruneArgs {
    /// The zone the servers register in (`server --register-dns ZONE`).
    #[arg(value_parser = parse_zone)]
    zone: String,
    /// Delete what failed its probe (without it, only say what would go).
    #[arg(long)]
    apply: bool,
    /// Output JSON: one object per instance.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    update: UpdateServerArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs `pingpong dns ...`.
pub(crate) async fn run(command: DnsCommand) -> Result<ExitCode> {
    match command {
        DnsCommand::Prune(args) => prune_zone(args).await,
    }
}

async fn prune_zone(args: PruneArgs) -> Result<ExitCode> {
    let key = if args.apply {
        Some(args.update.key("dns prune --apply")?)
    } else {
        None
    };
    let signer = key.as_ref().map(|k| k.signer()).transpose()?;
    let zone = zone_name(&args.zone)?;
    let server = match args.update.register_server {
        Some(server) => server,
        None => find_primary(&zone).await?,
    };
    let instances = prune::list(server, &zone).await?;
    let connector = Connector::new(&args.tls.material(LeafRole::Client)?, None)?
        .with_connect_timeout(PROBE_TIMEOUT);
    let probes = futures::future::join_all(instances.iter().map(|instance| async {
        match instance.candidate() {
            Some(candidate) => probe(&connector, &candidate).await,
            None if instance.srv.is_none() => ProbeResult::Unusable("no SRV record".into()),
            None => ProbeResult::Unusable("no address for its host".into()),
        }
    }))
    .await;
    let mut rows = vec![["INSTANCE", "TARGET", "PROBE", "ACTION"]
        .map(String::from)
        .to_vec()];
    let mut stale = 0;
    for (instance, probed) in instances.iter().zip(&probes) {
        let target = instance.srv.as_ref().map_or_else(
            || "-".to_string(),
            |s| format!("{}:{}", s.target.to_string().trim_end_matches('.'), s.port),
        );
        let action = match (probed, &signer) {
            (ProbeResult::Ok { .. } | ProbeResult::Draining, _) => "kept".to_string(),
            (ProbeResult::Unusable(_), None) => {
                stale += 1;
                "would delete".to_string()
            }
            (ProbeResult::Unusable(_), Some(signer)) => {
                match prune::delete(server, &zone, signer, instance, &instances).await {
                    Ok(true) => {
                        stale += 1;
                        "deleted".to_string()
                    }
                    Ok(false) => "kept (it changed: re-registered?)".to_string(),
                    Err(error) => format!("not deleted: {error}"),
                }
            }
        };
        if args.json {
            say!(
                "{}",
                serde_json::json!({
                    "instance": instance.instance,
                    "target": target,
                    "probe": probed.json(),
                    "action": action,
                })
            );
        }
        rows.push(vec![
            instance.instance.clone(),
            target,
            probed.text(),
            action,
        ]);
    }
    if !args.json {
        if instances.is_empty() {
            say!("no instances registered in {}", args.zone);
        } else {
            for row in report::table(&rows) {
                say!("{row}");
            }
        }
        match (stale, args.apply) {
            (0, _) => {}
            (n, false) => say!(
                "{n} instance(s) did not answer: run again with --apply --tsig-key FILE to delete them"
            ),
            (n, true) => say!("deleted {n} instance(s) from {}", args.zone),
        }
    }
    Ok(ExitCode::SUCCESS)
}
