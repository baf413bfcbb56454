//! Server settings with their defaults.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::tls::TlsMaterial;

pub use crate::service::DEFAULT_PATH;

/// Default listen address: every IPv6 and (dual-stack) IPv4 address, on
/// [`DEFAULT_PORT`](crate::service::DEFAULT_PORT).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    crate::service::DEFAULT_PORT,
);

/// How long a draining server gives its sessions to move elsewhere. Clients
/// reconnect within milliseconds of a `Drain`; five seconds also covers a client
/// in the middle of a slow handshake, and stays well under Kubernetes' default
/// 30 s termination grace period.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Default session limit: far above what one 2-core server pings at once, low
/// enough that memory stays bounded (a session costs tens of kilobytes).
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// Everything a [`super::Server`] needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; `[::]` means dual-stack, falling back to `0.0.0.0`.
    pub listen: SocketAddr,
    /// WebTransport path that serves sessions; other paths get 404.
    pub path: String,
    /// Certificate, key and the CA that client certificates must chain to.
    pub tls: TlsMaterial,
    /// Instance name sent in `Welcome`.
    pub instance: String,
    /// Deadline for a new session's `Hello`.
    pub hello_timeout: Duration,
    /// How long a draining server waits for its sessions to leave.
    pub drain_timeout: Duration,
    /// Bounds of the per-client outboxes.
    pub outbox: super::outbox::OutboxLimits,
    /// Sessions served at once; a client over the limit gets
    /// `Error { LIMIT_EXCEEDED, "server full" }`.
    pub max_sessions: usize,
    /// Serve `/healthz`, `/readyz` and `/metrics` over HTTP on this address.
    pub metrics: Option<SocketAddr>,
    /// mDNS advertising; `None` (the default for embedded servers) advertises
    /// nothing. The `pingpong server` command turns it on.
    pub mdns: Option<MdnsOptions>,
    /// Wide-area registration in a DNS zone (RFC 2136); `None` registers
    /// nothing.
    pub register: Option<crate::discovery::register::RegistrationOptions>,
    /// When not empty, only clients whose certificate names one of these (CN or
    /// SAN) get a session, on top of chaining to the CA.
    pub allowed_clients: Vec<String>,
}

/// How a server advertises itself over mDNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnsOptions {
    /// Service type, `_pingpong._udp.local.` by default.
    pub service_type: String,
    /// Interfaces to advertise on; empty means every interface.
    pub interfaces: Vec<String>,
}

impl Default for MdnsOptions {
    fn default() -> Self {
        Self {
            service_type: crate::service::SERVICE_TYPE.to_string(),
            interfaces: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Defaults for everything but the certificates.
    pub fn new(tls: TlsMaterial) -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            path: DEFAULT_PATH.to_string(),
            tls,
            instance: crate::tls::generate::local_host_label().unwrap_or_else(|| "pingpong".into()),
            hello_timeout: crate::transport::HELLO_TIMEOUT,
            drain_timeout: DRAIN_TIMEOUT,
            outbox: super::outbox::OutboxLimits::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            metrics: None,
            mdns: None,
            register: None,
            allowed_clients: Vec::new(),
        }
    }
}
