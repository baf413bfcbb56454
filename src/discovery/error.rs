//! Why discovery could not run.

/// Why discovery could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon failed.
    #[error("mDNS: {0}")]
    Mdns(String),
    /// The DNS resolver could not be set up.
    #[error("DNS: {0}")]
    Dns(String),
    /// A service type is malformed.
    #[error("invalid service type {0:?}: expected _name._udp or _name._tcp (or SUBTYPE._sub._name._tcp), as in _http._tcp.local.")]
    ServiceType(String),
}
