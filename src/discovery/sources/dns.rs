//! Unicast DNS queries as sources, one per query (SRV, a DNS-SD domain, the
//! browse domains the network announces): a failed reach makes every query
//! resolve again.

use tracing::debug;

use super::config::DiscoveryConfig;
use crate::discovery::dns::{DnsQuery, DnsResolver, DnsWatch};
use crate::discovery::source::{CandidateSource, Reports};
use crate::discovery::{Candidate, DiscoveryError, Source};

/// One query kept resolved.
struct Dns {
    watch: DnsWatch,
    source: Source,
}

impl CandidateSource for Dns {
    fn source(&self) -> Source {
        self.source
    }

    fn owns(&self, candidate: &Candidate) -> bool {
        matches!(candidate.source, Source::Dns | Source::DnsSd)
    }

    fn settles(&self) -> bool {
        true
    }

    fn report_failure(&self, _candidate: &Candidate) {
        self.watch.refresh();
    }
}

/// Starts the queries `config` asks for.
pub(super) fn start(
    config: &DiscoveryConfig,
    reports: &Reports,
) -> Result<Vec<Box<dyn CandidateSource>>, DiscoveryError> {
    if config.dns.is_empty() {
        return Ok(Vec::new());
    }
    let resolver = match DnsResolver::new(&config.dns_config) {
        Ok(resolver) => resolver,
        // Learning browse domains is best effort: without a usable DNS
        // configuration, mDNS alone.
        Err(error) if config.dns == [DnsQuery::Learnt] => {
            debug!(%error, "no DNS configuration: browse domains not learnt");
            return Ok(Vec::new());
        }
        Err(error) => return Err(DiscoveryError::Dns(error.to_string())),
    };
    Ok(config
        .dns
        .iter()
        .map(|query| {
            let source = match query {
                DnsQuery::Srv(_) => Source::Dns,
                DnsQuery::Browse(_) | DnsQuery::Learnt => Source::DnsSd,
            };
            let watch = DnsWatch::start(resolver.clone(), query.clone(), reports.clone());
            Box::new(Dns { watch, source }) as Box<dyn CandidateSource>
        })
        .collect())
}
