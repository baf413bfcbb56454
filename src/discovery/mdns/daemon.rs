//! The mdns-sd daemon: started on the interfaces asked for, and its errors in
//! ours.

use mdns_sd::{IfKind, ServiceDaemon};

use crate::discovery::DiscoveryError;

/// How often, in seconds, the daemon reads the interfaces (mdns-sd's default
/// is 5). mdns-sd leaves an interface that is down, and joins it again at the
/// next check: a server whose link flapped is deaf to queries until then, so a
/// reconfirmation of it (RFC 6762 §10.4) could go unanswered although it is
/// alive. Reading the interfaces is one `getifaddrs` call; the server's own
/// address following does as much every second.
const IP_CHECK_SECS: u32 = 1;

pub(crate) fn mdns_error(e: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError::Mdns(e.to_string())
}

/// A daemon limited to `interfaces` (all interfaces when empty).
pub(crate) fn daemon(interfaces: &[String]) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new().map_err(mdns_error)?;
    daemon
        .set_ip_check_interval(IP_CHECK_SECS)
        .map_err(mdns_error)?;
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
