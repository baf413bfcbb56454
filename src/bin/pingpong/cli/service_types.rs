//! `pingpong discover --all-types` (or `--type _services._dns-sd._udp`): the
//! service types present on the link (RFC 6763 §9), once, watched, or the
//! first one.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use pingpong::discovery::mdns::types::{TypeBrowser, TypeEvent};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::output::{say, timestamp};

/// What to list and how.
pub(crate) struct TypeListing<'a> {
    /// Keep running and print types as they come and go.
    pub(crate) watch: bool,
    /// JSON output.
    pub(crate) json: bool,
    /// Stop at the first type.
    pub(crate) first: bool,
    /// How long a snapshot listens.
    pub(crate) listen_for: Duration,
    /// The interfaces to browse on (all when empty).
    pub(crate) interfaces: &'a [String],
}

/// Lists the service types on the link until `stop`, the snapshot's end, or
/// the first type with `first`.
pub(crate) async fn run(listing: TypeListing<'_>, stop: CancellationToken) -> Result<ExitCode> {
    let (browser, mut events) = TypeBrowser::start(listing.interfaces)?;
    let deadline = tokio::time::Instant::now() + listing.listen_for;
    let mut present: Vec<String> = Vec::new();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::time::sleep_until(deadline), if !listing.watch => None,
            _ = stop.cancelled() => None,
        };
        let Some(event) = event else { break };
        if listing.watch {
            let at = timestamp();
            let (sign, kind, name) = match &event {
                TypeEvent::Found(name) => ('+', "added", name),
                TypeEvent::Gone(name) => ('-', "removed", name),
            };
            if listing.json {
                say!("{}", json!({"event": kind, "type": name, "time": at}));
            } else {
                say!("{sign} {at} {name}");
            }
            std::io::stdout().flush().ok();
        }
        match event {
            TypeEvent::Found(name) => present.push(name),
            TypeEvent::Gone(name) => present.retain(|t| *t != name),
        }
        if listing.first && !listing.watch && !present.is_empty() {
            break;
        }
    }
    browser.shutdown();
    if listing.watch {
        return Ok(ExitCode::SUCCESS);
    }
    present.sort();
    if listing.json {
        let all: Vec<_> = present.iter().map(|t| json!({ "type": t })).collect();
        say!("{}", serde_json::Value::Array(all));
    } else if present.is_empty() {
        say!("no service types found within {:?}", listing.listen_for);
    } else {
        for name in &present {
            say!("{name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
