//! Which service types are on the link (RFC 6763 §9): the PTR records of
//! `_services._dns-sd._udp.local.`, each naming a type some responder offers
//! (`_http._tcp.local.`), as `avahi-browse -a` and `dns-sd -B
//! _services._dns-sd._udp` list them.

use std::collections::HashSet;

use mdns_sd::{ServiceDaemon, ServiceEvent};
use tokio::sync::mpsc;
use tracing::debug;

use super::{daemon, mdns_error};
use crate::discovery::DiscoveryError;
use crate::text::truncate;

/// The DNS-SD meta-query name: its PTR records name the service types present.
pub const SERVICE_TYPES: &str = "_services._dns-sd._udp.local.";

/// Most types one browse keeps: past it, new ones are ignored, so a flood of
/// records cannot grow memory.
pub const MAX_TYPES: usize = 1024;

/// A change in the types present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeEvent {
    /// A responder offers this type (`_http._tcp.local.`).
    Found(String),
    /// No responder offers it any more.
    Gone(String),
}

/// A running browse of the service types on the link.
pub struct TypeBrowser {
    daemon: ServiceDaemon,
}

impl TypeBrowser {
    /// Starts browsing on `interfaces` (all when empty); events arrive on the
    /// returned channel, each type once until it goes.
    pub fn start(
        interfaces: &[String],
    ) -> Result<(Self, mpsc::UnboundedReceiver<TypeEvent>), DiscoveryError> {
        let daemon = daemon(interfaces)?;
        let events = daemon.browse(SERVICE_TYPES).map_err(mdns_error)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut present: HashSet<String> = HashSet::new();
            while let Ok(event) = events.recv_async().await {
                let out = match event {
                    ServiceEvent::ServiceFound(_, name) => {
                        let name = name.to_ascii_lowercase();
                        if !valid_type(&name) || present.len() >= MAX_TYPES {
                            debug!(name = %truncate(&name), "ignoring a service type");
                            continue;
                        }
                        if !present.insert(name.clone()) {
                            continue;
                        }
                        TypeEvent::Found(name)
                    }
                    ServiceEvent::ServiceRemoved(_, name) => {
                        let name = name.to_ascii_lowercase();
                        if !present.remove(&name) {
                            continue;
                        }
                        TypeEvent::Gone(name)
                    }
                    _ => continue,
                };
                if tx.send(out).is_err() {
                    break;
                }
            }
        });
        Ok((Self { daemon }, rx))
    }

    /// Stops browsing.
    pub fn shutdown(self) {
        let _ = self.daemon.shutdown();
    }
}

/// Whether `name` is a service type as RFC 6763 §7 writes them:
/// `_name._udp.local.` or `_name._tcp.local.`.
fn valid_type(name: &str) -> bool {
    super::check_service_type(name).is_ok() && !name.contains("._sub.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_types_are_listed() {
        assert!(valid_type("_http._tcp.local."));
        assert!(valid_type("_pingpong._udp.local."));
        assert!(!valid_type("printer._http._tcp.local."));
        assert!(!valid_type("_x._sub._http._tcp.local."));
        assert!(!valid_type("_http._tcp.example.com."));
    }
}
