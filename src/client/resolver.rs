//! Name resolution for connections: host names whose addresses discovery already
//! knows (an mDNS `host.local`) resolve to those addresses; everything else goes
//! to the system resolver. The URL keeps the host name, so TLS verifies the
//! certificate against the name the server was found by.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use wtransport::config::{DnsLookupFuture, DnsResolver};

use crate::discovery::AddressFamily;

/// A resolver with a table of addresses learnt from discovery.
#[derive(Clone, Default)]
pub struct KnownAddresses {
    table: Arc<Mutex<HashMap<String, SocketAddr>>>,
    family: Arc<Mutex<AddressFamily>>,
}

impl fmt::Debug for KnownAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownAddresses").finish_non_exhaustive()
    }
}

impl KnownAddresses {
    /// Limits system lookups to one IP version.
    pub fn set_family(&self, family: AddressFamily) {
        *self.family.lock().expect("resolver family lock") = family;
    }

    /// Makes `host:port` resolve to `addr`.
    pub fn pin(&self, host: &str, port: u16, addr: SocketAddr) {
        self.table
            .lock()
            .expect("resolver table lock")
            .insert(format!("{}:{port}", host.to_ascii_lowercase()), addr);
    }

    fn lookup(&self, host_port: &str) -> Option<SocketAddr> {
        self.table
            .lock()
            .expect("resolver table lock")
            .get(&host_port.to_ascii_lowercase())
            .copied()
    }
}

impl DnsResolver for KnownAddresses {
    fn resolve(&self, host_port: &str) -> Pin<Box<dyn DnsLookupFuture>> {
        let known = self.lookup(host_port);
        let family = *self.family.lock().expect("resolver family lock");
        let host_port = host_port.to_string();
        Box::pin(async move {
            match known {
                Some(addr) => Ok(Some(addr)),
                None => Ok(tokio::net::lookup_host(host_port)
                    .await?
                    .find(|a| family.allows(a))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pinned_names_resolve_to_their_address_and_others_fall_through() {
        let known = KnownAddresses::default();
        let addr: SocketAddr = "192.0.2.7:4433".parse().unwrap();
        known.pin("Web1.local", 4433, addr);
        assert_eq!(known.resolve("web1.local:4433").await.unwrap(), Some(addr));
        assert_eq!(
            known.resolve("127.0.0.1:9").await.unwrap(),
            Some("127.0.0.1:9".parse().unwrap())
        );
        known.set_family(AddressFamily::V6);
        assert_eq!(known.resolve("127.0.0.1:9").await.unwrap(), None);
    }
}
