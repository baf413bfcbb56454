//! Which sources to run.

use crate::discovery::dns::{DnsConfig, DnsQuery};
use crate::discovery::Candidate;

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
