//! Connecting to a discovered server: take the first usable candidate as soon as
//! it appears; when it cannot be reached (dead, or not trusted), ask discovery to
//! verify it and go on with the next one.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::debug;

use super::{ClientError, ClientSession, Connector};
use crate::discovery::mdns::Browser;
use crate::discovery::{Candidate, CandidateSet, DiscoveryEvent};

/// Connects to the first discovered server that completes the mTLS handshake
/// and Hello/Welcome. New candidates are awaited for `discover_timeout`; those
/// already known are all tried. `on_failure` hears about each candidate that
/// failed.
pub async fn connect_discovered(
    connector: &Connector,
    browser: &Browser,
    events: &mut UnboundedReceiver<DiscoveryEvent>,
    discover_timeout: Duration,
    mut on_failure: impl FnMut(&Candidate, &ClientError),
) -> Result<(Candidate, ClientSession), ClientError> {
    let deadline = tokio::time::Instant::now() + discover_timeout;
    let mut known = CandidateSet::default();
    let mut failed: HashSet<String> = HashSet::new();
    let mut failures: Vec<String> = Vec::new();
    loop {
        // Take in everything discovery has reported so far.
        while let Ok(event) = events.try_recv() {
            known.apply(event);
        }
        // A candidate without an address of our family may still get one: mdns-sd
        // resolves IPv4 and IPv6 in separate events. It is waited for, not failed.
        let family = connector.family();
        let next = known
            .first_usable(|c| {
                failed.contains(&c.key)
                    || (!c.addresses.is_empty() && c.preferred_address(family).is_none())
            })
            .cloned();
        let Some(candidate) = next else {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => {
                    known.apply(event);
                    continue;
                }
                _ if failures.is_empty() => {
                    return Err(ClientError::NothingDiscovered {
                        timeout: discover_timeout,
                    })
                }
                _ => return Err(ClientError::NoneReachable { failures }),
            }
        };
        match connector.open_candidate(&candidate).await {
            Ok(session) => return Ok((candidate, session)),
            Err(error) => {
                debug!(instance = %candidate.instance, url = %candidate.url(), %error, "discovered server unusable; trying another");
                on_failure(&candidate, &error);
                browser.verify(&candidate);
                failures.push(format!(
                    "{} ({}): {error}",
                    candidate.instance,
                    candidate.url()
                ));
                failed.insert(candidate.key.clone());
            }
        }
    }
}
