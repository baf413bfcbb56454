//! Servers given by URL (`client URL URL...`): candidates from the start,
//! ranked and failed over like discovered ones.

use super::config::DiscoveryConfig;
use crate::discovery::source::{CandidateSource, Report, Reports};
use crate::discovery::{DiscoveryEvent, Source};

/// The fixed candidates, already reported.
struct Fixed;

impl CandidateSource for Fixed {
    fn source(&self) -> Source {
        Source::Static
    }
}

/// Reports `config`'s fixed candidates, if any.
pub(super) fn start(config: &DiscoveryConfig, reports: &Reports) -> Vec<Box<dyn CandidateSource>> {
    if config.fixed.is_empty() {
        return Vec::new();
    }
    for candidate in &config.fixed {
        // The receiver is the combinator's, alive while it starts sources.
        let _ = reports.send(Report::Event(DiscoveryEvent::Added(candidate.clone())));
    }
    vec![Box::new(Fixed)]
}
