//! Unicast DNS discovery with hickory-resolver: SRV (RFC 2782) as Kubernetes
//! headless Services publish it, and DNS-SD browsing (RFC 6763: PTR → SRV + TXT).
//! The parts:
//! - this module: settings, queries, lookup errors, the names users type;
//! - [`records`]: what an answer's records mean, pure (tested against arbitrary
//!   and mutated responses, without sockets);
//! - [`resolver`]: asking, with hickory-resolver, and turning answers into
//!   candidates;
//! - [`domains`]: the browse domains the network announces (RFC 6763 §11);
//! - [`watch`]: keeping a query's candidates up to date (TTL, refresh on failure).
//!
//! Everything in an answer is untrusted input and is validated like mDNS
//! records are; nothing is trusted until TLS has verified the server.

pub mod domains;
pub mod records;
pub mod resolver;
pub mod watch;

use std::net::SocketAddr;
use std::time::Duration;

use crate::discovery::Candidate;

pub use records::parse_txt_string;
pub use resolver::DnsResolver;
pub use watch::DnsWatch;

/// The service label pingpong's SRV names start with.
pub const SERVICE_PREFIX: &str = "_pingpong._udp.";

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
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Why a DNS lookup gave nothing usable; each message names the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsLookupError {
    /// NXDOMAIN.
    #[error("{name} does not exist (NXDOMAIN): {}", if kubernetes_name(name) {
        "check the service and namespace names"
    } else {
        "check the name (short names are completed with the search list of /etc/resolv.conf)"
    })]
    NoSuchName {
        /// The name asked for.
        name: String,
    },
    /// The name exists but has no record of the type asked.
    #[error("{name} has no {kind} records (NODATA): {}", if kubernetes_name(name) {
        "is the Service headless with a UDP port named \"pingpong\"?"
    } else {
        "is a server registered there?"
    })]
    NoRecords {
        /// The name asked for.
        name: String,
        /// SRV, PTR, A/AAAA...
        kind: &'static str,
    },
    /// A DNS-SD domain lists no instance.
    #[error("no PTR records at {name}: are pingpong servers registered in that DNS-SD domain?")]
    NoBrowseRecords {
        /// The browse name (`_pingpong._udp.DOMAIN`).
        name: String,
    },
    /// SRV target "." (RFC 2782: decidedly not available).
    #[error("{name} says the service is not available here (SRV target \".\")")]
    NotAvailable {
        /// The name asked for.
        name: String,
    },
    /// No SRV target has an address.
    #[error("no SRV target of {name} has an address: {targets}")]
    NoAddress {
        /// The name asked for.
        name: String,
        /// The targets, comma-separated.
        targets: String,
    },
    /// Nothing answered.
    #[error(
        "no answer from the DNS server{servers} within {timeout:?}: is it running and reachable?"
    )]
    Timeout {
        /// ` at 10.0.0.1:53`, or empty for the system's servers.
        servers: String,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The server refused or failed.
    #[error("the DNS server answered {code} for {name}")]
    ServerError {
        /// The name asked for.
        name: String,
        /// The response code.
        code: String,
    },
    /// The name is not a valid DNS name.
    #[error("invalid DNS name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// Why.
        reason: String,
    },
    /// A record was ignored (malformed TXT, a target without address, ...).
    #[error("ignored: {0}")]
    Ignored(String),
    /// Any other resolver failure.
    #[error("DNS lookup of {name} failed: {reason}")]
    Other {
        /// The name asked for.
        name: String,
        /// The resolver's complaint.
        reason: String,
    },
}

/// The SRV name for what a user typed: a full `_pingpong._udp.NAME` (or any
/// other `_service._proto.` name) is used as given; anything else gets
/// `_pingpong._udp.` in front, so `pingpong.default.svc.cluster.local` and the
/// short `pingpong` (expanded by the search list) both work.
pub fn srv_name(input: &str) -> String {
    let labels: Vec<&str> = input.split('.').collect();
    let already_service = labels.len() >= 2
        && labels[0].starts_with('_')
        && (labels[1] == "_udp" || labels[1] == "_tcp");
    if already_service {
        input.to_string()
    } else {
        format!("{SERVICE_PREFIX}{input}")
    }
}

/// Whether `name` is a Kubernetes Service name (under `svc.<cluster domain>`),
/// where Kubernetes advice helps.
fn kubernetes_name(name: &str) -> bool {
    name.trim_end_matches('.')
        .split('.')
        .any(|label| label.eq_ignore_ascii_case("svc"))
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
    /// [`domains`]).
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
