//! The interface every source of candidates implements ([`CandidateSource`]),
//! and what sources report into the one stream the combinator
//! ([`Discovery`](super::Discovery)) merges ([`Report`]).

use tokio::sync::mpsc;

use super::dns::DnsLookupError;
use super::{Candidate, DiscoveryEvent, Source};

/// What a source reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A candidate appeared, changed or left.
    Event(DiscoveryEvent),
    /// One answer's changes, whole: a client choosing by SRV weight must see
    /// every candidate of an answer, never the first alone.
    Answer(Vec<DiscoveryEvent>),
    /// The source could not look (NXDOMAIN, DNS server down, ...).
    Problem(DnsLookupError),
    /// The source's first look is complete, its events already reported
    /// (sent once, by sources that [`settle`](CandidateSource::settles)).
    Settled,
}

/// Where a source sends its reports: one channel for every source, so their
/// order is kept.
pub type Reports = mpsc::UnboundedSender<Report>;

/// A running source of candidates: started with a [`Reports`] sender (each
/// source's file has the function that starts it from the configuration), it
/// reports what it finds until it is shut down.
pub trait CandidateSource: Send {
    /// Where its candidates come from.
    fn source(&self) -> Source;

    /// Whether `candidate` is one of its own (it hears of failures to reach it).
    fn owns(&self, candidate: &Candidate) -> bool {
        candidate.source == self.source()
    }

    /// Whether it reports [`Report::Settled`] once its first look is complete
    /// (a snapshot of such sources alone can end then).
    fn settles(&self) -> bool {
        false
    }

    /// Reaching `candidate` failed: look again (mDNS reconfirms the record,
    /// DNS resolves again). Nothing by default.
    fn report_failure(&self, candidate: &Candidate) {
        let _ = candidate;
    }

    /// Stops it.
    fn shutdown(self: Box<Self>) {}
}
