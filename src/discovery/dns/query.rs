//! What to ask and how: the resolver's settings, the queries, the names users
//! type, and what an answer yields.

use std::net::SocketAddr;
use std::time::Duration;

use crate::discovery::Candidate;

/// The service label pingpong's SRV names start with.
pub const SERVICE_PREFIX: &str = "_pingpong._udp.";

/// The service DNS lookups are for, by default: pingpong's own.
pub const DEFAULT_SERVICE: &str = "_pingpong._udp";

/// A DNS answer is given up on after this long. hickory's default (5 s × 2
/// attempts, per server) makes a CLI wait 15 s for a dead server; two seconds is
/// ample on a LAN or in a cluster, where answers take milliseconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Re-resolution never happens more often than this, whatever the TTL says
/// (TTL 0 records would otherwise make a busy loop).
pub(crate) const MIN_REFRESH: Duration = Duration::from_secs(1);
/// Nor less often than this, so that a long TTL does not hide a changed record
/// for hours.
pub(crate) const MAX_REFRESH: Duration = Duration::from_secs(300);
/// Longest name accepted from an answer (RFC 1035).
pub(crate) const MAX_NAME_LEN: usize = 253;

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Name servers to ask; empty means the system's (`/etc/resolv.conf`, with its
    /// search list and `ndots`).
    pub servers: Vec<SocketAddr>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// The service looked up, as the first two labels of its names
    /// (`_pingpong._udp`, `_http._tcp`): SRV names and browse names start
    /// with it, and a pingpong TXT record is expected only for pingpong's.
    pub service: String,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            service: DEFAULT_SERVICE.to_string(),
        }
    }
}

impl DnsConfig {
    /// Whether the lookups are for pingpong's own service.
    pub fn is_pingpong(&self) -> bool {
        self.service == DEFAULT_SERVICE
    }
}

/// The SRV name for what a user typed: a full `_pingpong._udp.NAME` (or any
/// other `_service._proto.` name) is used as given; anything else gets
/// `_pingpong._udp.` in front, so `pingpong.default.svc.cluster.local` and the
/// short `pingpong` (expanded by the search list) both work.
pub fn srv_name(input: &str) -> String {
    service_name(DEFAULT_SERVICE, input)
}

/// The name of `service` (`_http._tcp`) for what a user typed: a full
/// `_service._proto.` name is used as given, anything else gets `service.` in
/// front.
pub fn service_name(service: &str, input: &str) -> String {
    let labels: Vec<&str> = input.split('.').collect();
    let already_service = labels.len() >= 2
        && labels[0].starts_with('_')
        && (labels[1] == "_udp" || labels[1] == "_tcp");
    if already_service {
        input.to_string()
    } else {
        format!("{service}.{input}")
    }
}

/// The DNS-SD browse name of a domain: `_pingpong._udp.DOMAIN`.
pub fn browse_name(domain: &str) -> String {
    srv_name(domain)
}

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DnsQuery {
    /// SRV records at this name (already expanded with [`srv_name`]).
    Srv(String),
    /// DNS-SD: PTR records at this name, each an instance with SRV + TXT.
    Browse(String),
    /// DNS-SD in every browse domain the network announces (see
    /// [`domains`](super::domains)).
    Learnt,
}

impl DnsQuery {
    pub(crate) fn name(&self) -> &str {
        match self {
            DnsQuery::Srv(n) | DnsQuery::Browse(n) => n,
            DnsQuery::Learnt => "the browse domains of the network",
        }
    }
}

/// The candidates a query found, and how long they may be kept.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// One per usable SRV record.
    pub candidates: Vec<Candidate>,
    /// Smallest TTL of the records used.
    pub ttl: Duration,
    /// Records that were skipped, with the reason (for warnings).
    pub skipped: Vec<String>,
}
