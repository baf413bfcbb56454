//! All configured sources merged into one stream of events: mDNS browsing and
//! DNS queries (SRV, DNS-SD) report into the same channel, and a failed
//! connection is reported back to the source that found the candidate.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tracing::debug;

use super::dns::{DnsConfig, DnsLookupError, DnsQuery, DnsResolver, DnsWatch};
use super::mdns::Browser;
use super::{Candidate, DiscoveryError, DiscoveryEvent, Source};

/// Which sources to run.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryConfig {
    /// Browse mDNS for this service type on these interfaces (empty: all).
    pub mdns: Option<MdnsBrowse>,
    /// DNS queries to keep resolved.
    pub dns: Vec<DnsQuery>,
    /// The resolver's settings.
    pub dns_config: DnsConfig,
    /// Servers given by URL (`client URL URL...`): candidates from the start,
    /// ranked and failed over like discovered ones.
    pub fixed: Vec<Candidate>,
}

/// An mDNS browse.
#[derive(Debug, Clone)]
pub struct MdnsBrowse {
    /// e.g. `_pingpong._udp.local.`
    pub service_type: String,
    /// Interfaces; empty means all.
    pub interfaces: Vec<String>,
}

/// What the merged sources report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    /// A candidate appeared, changed or left.
    Event(DiscoveryEvent),
    /// A source could not look (NXDOMAIN, DNS server down, ...).
    Problem(DnsLookupError),
    /// A DNS query has had its first answer (or failure), its events already
    /// reported: see [`Discovery::dns_settled`].
    Settled,
}

/// Running sources.
pub struct Discovery {
    events: mpsc::UnboundedReceiver<DiscoveryEvent>,
    /// Each DNS answer's changes, whole: a client choosing by SRV weight
    /// must see every candidate of an answer, never the first alone.
    answers: mpsc::UnboundedReceiver<Vec<DiscoveryEvent>>,
    /// Events of an answer not yet handed out.
    pending: VecDeque<DiscoveryEvent>,
    problems: mpsc::UnboundedReceiver<DnsLookupError>,
    browser: Option<Browser>,
    watches: Vec<DnsWatch>,
    settled: mpsc::UnboundedReceiver<()>,
    unsettled: usize,
}

impl Discovery {
    /// Starts every configured source. Must be called within a tokio runtime.
    pub fn start(config: &DiscoveryConfig) -> Result<Self, DiscoveryError> {
        let (tx, events) = mpsc::unbounded_channel();
        let (problem_tx, problems) = mpsc::unbounded_channel();
        let (settled_tx, settled) = mpsc::unbounded_channel();
        let (answer_tx, answers) = mpsc::unbounded_channel();
        let browser = config
            .mdns
            .as_ref()
            .map(|m| Browser::start_with(&m.service_type, &m.interfaces, tx.clone()))
            .transpose()?;
        for candidate in &config.fixed {
            // The receiver is right here: this cannot fail.
            let _ = tx.send(DiscoveryEvent::Added(candidate.clone()));
        }
        let mut watches = Vec::new();
        if !config.dns.is_empty() {
            let resolver = match DnsResolver::new(&config.dns_config) {
                Ok(resolver) => Some(resolver),
                // Learning browse domains is best effort: without a usable
                // DNS configuration, mDNS alone.
                Err(error) if config.dns == [DnsQuery::Learnt] => {
                    debug!(%error, "no DNS configuration: browse domains not learnt");
                    None
                }
                Err(error) => return Err(DiscoveryError::Dns(error.to_string())),
            };
            let queries = resolver
                .iter()
                .flat_map(|r| config.dns.iter().map(move |q| (r, q)));
            for (resolver, query) in queries {
                watches.push(DnsWatch::start(
                    resolver.clone(),
                    query.clone(),
                    answer_tx.clone(),
                    problem_tx.clone(),
                    settled_tx.clone(),
                ));
            }
        }
        let unsettled = watches.len();
        Ok(Self {
            events,
            answers,
            pending: VecDeque::new(),
            problems,
            browser,
            watches,
            settled,
            unsettled,
        })
    }

    /// Whether mDNS is among the sources.
    pub fn has_mdns(&self) -> bool {
        self.browser.is_some()
    }

    /// Whether every DNS query has had its first answer (or failure), all of
    /// it reported: a snapshot of DNS sources alone is complete then.
    pub fn dns_settled(&self) -> bool {
        self.unsettled == 0
    }

    /// The next event from any source; `None` once every source has stopped.
    pub async fn next(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(SourceEvent::Event(event));
            }
            // An answer's events come before its `Settled` (sent after them).
            tokio::select! {
                biased;
                Some(problem) = self.problems.recv() => return Some(SourceEvent::Problem(problem)),
                Some(event) = self.events.recv() => return Some(SourceEvent::Event(event)),
                Some(answer) = self.answers.recv() => self.pending.extend(answer),
                Some(()) = self.settled.recv(), if self.unsettled > 0 => {
                    self.unsettled -= 1;
                    return Some(SourceEvent::Settled);
                }
                else => return None,
            }
        }
    }

    /// An event that is already waiting, if any.
    pub fn try_next(&mut self) -> Option<SourceEvent> {
        if let Ok(problem) = self.problems.try_recv() {
            return Some(SourceEvent::Problem(problem));
        }
        if self.pending.is_empty() {
            if let Ok(answer) = self.answers.try_recv() {
                self.pending.extend(answer);
            }
        }
        if let Some(event) = self.pending.pop_front() {
            return Some(SourceEvent::Event(event));
        }
        self.events.try_recv().ok().map(SourceEvent::Event)
    }

    /// Tells the source of `candidate` that connecting to it failed: mDNS
    /// verifies the record, DNS resolves again.
    pub fn report_failure(&self, candidate: &Candidate) {
        match candidate.source {
            Source::Mdns => {
                if let Some(browser) = &self.browser {
                    browser.verify(candidate);
                }
            }
            Source::Dns | Source::DnsSd => self.watches.iter().for_each(DnsWatch::refresh),
            Source::Static => {}
        }
    }

    /// Stops every source.
    pub fn shutdown(self) {
        if let Some(browser) = self.browser {
            browser.shutdown();
        }
    }
}
