//! The mdns-sd daemon: started on the interfaces asked for, its errors in
//! ours, and how long a record must answer when reconfirmed.

use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon};

use crate::discovery::DiscoveryError;

/// How long a record may stay silent after a failed connection before it is
/// dropped: RFC 6762 section 10.4 queries twice within a second, so a dead
/// server disappears in about a second instead of after its 120 s TTL.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) fn mdns_error(e: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError::Mdns(e.to_string())
}

/// A daemon limited to `interfaces` (all interfaces when empty).
pub(crate) fn daemon(interfaces: &[String]) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new().map_err(mdns_error)?;
    if !interfaces.is_empty() {
        daemon.disable_interface(IfKind::All).map_err(mdns_error)?;
        for name in interfaces {
            daemon
                .enable_interface(IfKind::Name(name.clone()))
                .map_err(mdns_error)?;
        }
    }
    Ok(daemon)
}
