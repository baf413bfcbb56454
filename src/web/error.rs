//! Why the agent could not start.

use std::net::SocketAddr;

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {error}. Fix: {}", crate::text::bind_fix(.error))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error (in the message, not a source: said once).
        error: std::io::Error,
    },
    /// The listen address is not loopback and remote access was not allowed.
    #[error("{0} is not a loopback address: the dashboard serves only this machine unless --allow-remote is given")]
    NotLoopback(SocketAddr),
    /// The browser certificate could not be made.
    #[error("cannot make the dashboard's certificate: {0}")]
    Certificate(String),
    /// Discovery could not start.
    #[error(transparent)]
    Discovery(#[from] crate::discovery::DiscoveryError),
}
