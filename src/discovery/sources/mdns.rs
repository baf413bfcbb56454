//! The mDNS browse of one service type as a source: a failed reach makes it
//! reconfirm the record (RFC 6762 §10.4).

use super::config::DiscoveryConfig;
use crate::discovery::mdns::Browser;
use crate::discovery::source::{CandidateSource, Report, Reports};
use crate::discovery::{Candidate, DiscoveryError, Source};

/// A running browse.
struct Mdns {
    browser: Browser,
}

impl CandidateSource for Mdns {
    fn source(&self) -> Source {
        Source::Mdns
    }

    fn report_failure(&self, candidate: &Candidate) {
        self.browser.verify(candidate);
    }

    fn shutdown(self: Box<Self>) {
        self.browser.shutdown();
    }
}

/// Starts the browse `config` asks for, if any.
pub(super) fn start(
    config: &DiscoveryConfig,
    reports: &Reports,
) -> Result<Vec<Box<dyn CandidateSource>>, DiscoveryError> {
    let Some(mdns) = &config.mdns else {
        return Ok(Vec::new());
    };
    let reports = reports.clone();
    let browser = Browser::start_with(&mdns.service_type, &mdns.interfaces, move |event| {
        reports.send(Report::Event(event)).is_ok()
    })?;
    Ok(vec![Box::new(Mdns { browser })])
}
