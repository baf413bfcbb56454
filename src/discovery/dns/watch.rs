//! Keeping a query's candidates up to date: resolved again when the TTL runs
//! out or a connection failed, differences reported as events.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::warn;

use crate::discovery::source::{Report, Reports};
use crate::discovery::{Candidate, DiscoveryEvent, RemovalReason};

use super::{DnsLookupError, DnsQuery, DnsResolver, MAX_REFRESH, MIN_REFRESH};

/// Keeps a query's candidates up to date: resolves now, then again when the
/// records' TTL runs out or when [`DnsWatch::refresh`] is called (after a failed
/// connection), and reports the differences as events.
pub struct DnsWatch {
    refresh: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsWatch {
    /// Starts watching `query`, reporting each answer's changes as one
    /// [`Report::Answer`]. A failed lookup is reported as a
    /// [`Report::Problem`] (once per distinct error) and retried.
    /// [`Report::Settled`] follows the first answer's changes (or its
    /// problem), once.
    pub fn start(resolver: DnsResolver, query: DnsQuery, reports: Reports) -> Self {
        let refresh = Arc::new(Notify::new());
        let wake = refresh.clone();
        let task = tokio::spawn(async move {
            let mut known: HashMap<String, Candidate> = HashMap::new();
            let mut last_problem: Option<DnsLookupError> = None;
            let mut settled = false;
            loop {
                let wait = match resolver.resolve(&query).await {
                    Ok(found) => {
                        last_problem = None;
                        for skipped in &found.skipped {
                            warn!(name = query.name(), "{skipped}");
                            let _ = reports
                                .send(Report::Problem(DnsLookupError::Ignored(skipped.clone())));
                        }
                        let current: HashMap<String, Candidate> = found
                            .candidates
                            .into_iter()
                            .map(|c| (c.key.clone(), c))
                            .collect();
                        let mut changes = Vec::new();
                        for (key, old) in &known {
                            match current.get(key) {
                                None => changes.push(DiscoveryEvent::Removed(
                                    old.clone(),
                                    RemovalReason::Unlisted,
                                )),
                                Some(new) if new != old => {
                                    changes.push(DiscoveryEvent::Updated(new.clone()));
                                }
                                Some(_) => {}
                            }
                        }
                        for (key, new) in &current {
                            if !known.contains_key(key) {
                                changes.push(DiscoveryEvent::Added(new.clone()));
                            }
                        }
                        if !changes.is_empty() {
                            let _ = reports.send(Report::Answer(changes));
                        }
                        known = current;
                        found.ttl.clamp(MIN_REFRESH, MAX_REFRESH)
                    }
                    Err(problem) => {
                        if last_problem.as_ref() != Some(&problem) {
                            let _ = reports.send(Report::Problem(problem.clone()));
                        }
                        if matches!(
                            problem,
                            DnsLookupError::NoSuchName { .. }
                                | DnsLookupError::NoRecords { .. }
                                | DnsLookupError::NoBrowseRecords { .. }
                                | DnsLookupError::NotAvailable { .. }
                        ) {
                            let gone: Vec<DiscoveryEvent> = known
                                .drain()
                                .map(|(_, old)| {
                                    DiscoveryEvent::Removed(old, RemovalReason::Unlisted)
                                })
                                .collect();
                            if !gone.is_empty() {
                                let _ = reports.send(Report::Answer(gone));
                            }
                        }
                        last_problem = Some(problem);
                        MIN_REFRESH * 2
                    }
                };
                if !settled {
                    settled = true;
                    let _ = reports.send(Report::Settled);
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wake.notified() => {}
                }
                if reports.is_closed() {
                    break;
                }
            }
        });
        Self { refresh, task }
    }

    /// Resolves again now (for example after a connection to a candidate failed).
    pub fn refresh(&self) {
        self.refresh.notify_one();
    }
}

impl Drop for DnsWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
