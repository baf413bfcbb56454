//! Every configured source merged into one stream ([`Discovery`], the
//! combinator). Each source is a file here implementing
//! [`CandidateSource`], started by the list in
//! [`Discovery::start`]; adding a source is a file and a line there:
//! - `fixed.rs`: servers given by URL;
//! - `mdns.rs`: the mDNS browse of one service type;
//! - `dns.rs`: unicast DNS queries (SRV, DNS-SD, learnt browse domains);
//! - `config.rs`: which sources to run.
//!
//! A failed connection is reported back to the sources that own the
//! candidate.

mod config;
mod dns;
mod fixed;
mod mdns;

use std::collections::VecDeque;

use tokio::sync::mpsc;

pub use config::{DiscoveryConfig, MdnsBrowse};

use super::dns::DnsLookupError;
use super::source::{CandidateSource, Report};
use super::{Candidate, DiscoveryError, DiscoveryEvent, Source};

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

/// Running sources, merged.
pub struct Discovery {
    reports: mpsc::UnboundedReceiver<Report>,
    /// Events of an answer not yet handed out.
    pending: VecDeque<DiscoveryEvent>,
    sources: Vec<Box<dyn CandidateSource>>,
    /// Sources that settle and have not yet.
    unsettled: usize,
}

impl Discovery {
    /// Starts every configured source. Must be called within a tokio runtime.
    pub fn start(config: &DiscoveryConfig) -> Result<Self, DiscoveryError> {
        let (reports, receiver) = mpsc::unbounded_channel();
        // The sources, each from its file.
        let mut sources = fixed::start(config, &reports);
        sources.extend(mdns::start(config, &reports)?);
        sources.extend(dns::start(config, &reports)?);
        let unsettled = sources.iter().filter(|s| s.settles()).count();
        Ok(Self {
            reports: receiver,
            pending: VecDeque::new(),
            sources,
            unsettled,
        })
    }

    /// Whether mDNS is among the sources.
    pub fn has_mdns(&self) -> bool {
        self.sources.iter().any(|s| s.source() == Source::Mdns)
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
            let report = self.reports.recv().await?;
            if let Some(event) = self.absorb(report) {
                return Some(event);
            }
        }
    }

    /// An event that is already waiting, if any.
    pub fn try_next(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(SourceEvent::Event(event));
            }
            let report = self.reports.try_recv().ok()?;
            if let Some(event) = self.absorb(report) {
                return Some(event);
            }
        }
    }

    /// The event `report` is, if it is one now (an answer's events are
    /// handed out one by one).
    fn absorb(&mut self, report: Report) -> Option<SourceEvent> {
        match report {
            Report::Event(event) => Some(SourceEvent::Event(event)),
            Report::Answer(events) => {
                self.pending.extend(events);
                None
            }
            Report::Problem(problem) => Some(SourceEvent::Problem(problem)),
            Report::Settled => {
                self.unsettled = self.unsettled.saturating_sub(1);
                Some(SourceEvent::Settled)
            }
        }
    }

    /// Tells the sources of `candidate` that connecting to it failed: mDNS
    /// verifies the record, DNS resolves again.
    pub fn report_failure(&self, candidate: &Candidate) {
        for source in self.sources.iter().filter(|s| s.owns(candidate)) {
            source.report_failure(candidate);
        }
    }

    /// Stops every source.
    pub fn shutdown(self) {
        for source in self.sources {
            source.shutdown();
        }
    }
}
