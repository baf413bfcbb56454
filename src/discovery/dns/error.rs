//! Why a DNS lookup gave nothing usable.

use std::time::Duration;

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

/// Whether `name` is a Kubernetes Service name (under `svc.<cluster domain>`),
/// where Kubernetes advice helps.
fn kubernetes_name(name: &str) -> bool {
    name.trim_end_matches('.')
        .split('.')
        .any(|label| label.eq_ignore_ascii_case("svc"))
}
