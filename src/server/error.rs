//! Why a server could not start.

use std::net::SocketAddr;

use crate::discovery::register::RegisterError;
use crate::tls::TlsError;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Certificate material is missing or invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// mDNS advertising could not start (the cause in the message, not a
    /// source: said once).
    #[error("cannot advertise over mDNS: {0} (use --no-mdns to run without it)")]
    Mdns(crate::discovery::DiscoveryError),
    /// Wide-area registration is configured in a way that cannot work (the
    /// cause in the message, not a source: said once).
    #[error("cannot register in DNS: {0}")]
    Register(RegisterError),
    /// The UDP socket could not be bound.
    #[error("cannot listen on {addr}: {error}. Fix: {}", crate::text::bind_fix(.error))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error (in the message, not a source: said once).
        error: std::io::Error,
    },
}

impl From<crate::discovery::DiscoveryError> for ServerError {
    fn from(error: crate::discovery::DiscoveryError) -> Self {
        ServerError::Mdns(error)
    }
}

impl From<RegisterError> for ServerError {
    fn from(error: RegisterError) -> Self {
        ServerError::Register(error)
    }
}
