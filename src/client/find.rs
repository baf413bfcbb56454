//! Connecting to a discovered server: take the first usable candidate as soon as
//! it appears; when it cannot be reached (dead, or not trusted), ask discovery to
//! verify it and go on with the next one.

use std::collections::HashSet;
use std::time::Duration;

use tracing::debug;

use super::{ClientError, ClientSession, Connector};
use crate::discovery::dns::DnsLookupError;
use crate::discovery::{Candidate, CandidateSet, Discovery, SourceEvent};

/// Connects to the first discovered server that completes the mTLS handshake
/// and Hello/Welcome. New candidates are awaited for `discover_timeout`; those
/// already known are all tried. `on_failure` hears about each candidate that
/// failed.
pub async fn connect_discovered(
    connector: &Connector,
    discovery: &mut Discovery,
    discover_timeout: Duration,
    mut on_failure: impl FnMut(&Candidate, &ClientError),
) -> Result<(Candidate, ClientSession), ClientError> {
    let deadline = tokio::time::Instant::now() + discover_timeout;
    let mut known = CandidateSet::default();
    let mut failed: HashSet<String> = HashSet::new();
    let mut failures: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    loop {
        // Take in everything discovery has reported so far.
        while let Some(event) = discovery.try_next() {
            match event {
                SourceEvent::Event(event) => known.apply(event),
                SourceEvent::Problem(DnsLookupError::Ignored(_)) => {} // logged by the source
                SourceEvent::Problem(problem) => problems.push(problem.to_string()),
            }
        }
        // A candidate without an address of our family may still get one: mdns-sd
        // resolves IPv4 and IPv6 in separate events. It is waited for, not failed.
        let family = connector.family();
        let next = known
            .pick_usable(
                |c| {
                    failed.contains(&c.key)
                        || (!c.addresses.is_empty() && c.preferred_address(family).is_none())
                },
                &mut rand::rng(),
            )
            .cloned();
        let Some(candidate) = next else {
            // DNS alone: a failed lookup is the answer, there is no point waiting.
            if !discovery.has_mdns() && known.all().is_empty() && !problems.is_empty() {
                return Err(ClientError::Discovery(problems.join("; ")));
            }
            match tokio::time::timeout_at(deadline, discovery.next()).await {
                Ok(Some(SourceEvent::Event(event))) => {
                    known.apply(event);
                    continue;
                }
                Ok(Some(SourceEvent::Problem(DnsLookupError::Ignored(_)))) => continue,
                Ok(Some(SourceEvent::Problem(problem))) => {
                    problems.push(problem.to_string());
                    continue;
                }
                _ if !failures.is_empty() => return Err(ClientError::NoneReachable { failures }),
                _ if !problems.is_empty() => {
                    return Err(ClientError::Discovery(problems.join("; ")))
                }
                _ => {
                    return Err(ClientError::NothingDiscovered {
                        timeout: discover_timeout,
                    })
                }
            }
        };
        match connector.open_candidate(&candidate).await {
            Ok(session) => return Ok((candidate, session)),
            Err(error) => {
                debug!(instance = %candidate.instance, url = %candidate.url(), %error, "discovered server unusable; trying another");
                on_failure(&candidate, &error);
                discovery.report_failure(&candidate);
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
