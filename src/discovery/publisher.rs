//! The interface every way of publishing a server implements ([`Publisher`]):
//! the mDNS advertisement (`mdns/advertise.rs`) and the RFC 2136 registration
//! in a DNS zone (`register/registrar.rs`). The server starts the ones its
//! configuration asks for (`server/publishers.rs`) and treats them alike.

use futures::future::BoxFuture;

use super::DiscoveryError;

/// A running publication of one server (or any service).
pub trait Publisher: Send + Sync {
    /// What it publishes to, for logs (`mDNS`, `DNS zone lab.test`).
    fn name(&self) -> String;

    /// Publishes `txt` in place of the last TXT record (the server's state,
    /// its load). An error is what could not be sent now; a publisher that
    /// retries on its own (the registrar) reports through its status instead.
    fn update_txt(&self, txt: &[(String, String)]) -> Result<(), DiscoveryError>;

    /// Withdraws what was published (the mDNS goodbye, the records' removal
    /// from the zone), bounded in time, and stops.
    fn withdraw(self: Box<Self>) -> BoxFuture<'static, ()>;
}
