//! Name resolution for connections. A connection attempt to one known address
//! (an mDNS candidate's, or one of several a candidate has) runs inside
//! [`dialling`], and the host name in its URL resolves to that address; every
//! other name goes to the system resolver. The URL keeps the host name, so TLS
//! and the HTTP/3 authority see the name the server was found by, and several
//! attempts to one host at different addresses can run at once.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use wtransport::config::{DnsLookupFuture, DnsResolver};

use crate::discovery::AddressFamily;

tokio::task_local! {
    /// The address the current connection attempt dials.
    static DIALLING: SocketAddr;
}

/// Runs `attempt` (one `Endpoint::connect` and what follows) so that the host
/// name it connects to resolves to `address`.
pub async fn dialling<F: Future>(address: SocketAddr, attempt: F) -> F::Output {
    DIALLING.scope(address, attempt).await
}

/// The resolver of a client endpoint.
#[derive(Clone, Default)]
pub struct KnownAddresses {
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
}

impl DnsResolver for KnownAddresses {
    fn resolve(&self, host_port: &str) -> Pin<Box<dyn DnsLookupFuture>> {
        // wtransport calls this while the attempt's future is polled, inside
        // its `dialling` scope.
        let known = DIALLING.try_with(|address| *address).ok();
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
    async fn names_resolve_to_the_dialled_address_inside_its_scope_only() {
        let known = KnownAddresses::default();
        let a: SocketAddr = "192.0.2.7:4433".parse().unwrap();
        let b: SocketAddr = "[fe80::7%2]:4433".parse().unwrap();
        let (in_a, in_b) = tokio::join!(
            dialling(a, async { known.resolve("web1.local:4433").await.unwrap() }),
            dialling(b, async { known.resolve("web1.local:4433").await.unwrap() }),
        );
        assert_eq!((in_a, in_b), (Some(a), Some(b)));
        assert_eq!(
            known.resolve("127.0.0.1:9").await.unwrap(),
            Some("127.0.0.1:9".parse().unwrap())
        );
        known.set_family(AddressFamily::V6);
        assert_eq!(known.resolve("127.0.0.1:9").await.unwrap(), None);
    }
}
