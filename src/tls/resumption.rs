//! TLS 1.3 session resumption: a client that comes back (failover, a
//! reconnect, `discover --probe`, the dashboard's monitors) presents a ticket
//! from its last session and skips the certificate exchange and signatures.
//!
//! - [`Tickets`], the server's: stateless (encrypted by rustls's rotating
//!   [`Ticketer`], no server memory per ticket), each carrying its own expiry,
//!   at most [`TICKET_LIFETIME`] and never past the server certificate's end,
//!   checked when it comes back. Each server configuration has its own keys,
//!   so a certificate or CA reload (a new configuration) invalidates every
//!   ticket issued before.
//! - [`ClientTickets`], the client's: rustls's in-memory store, which offers
//!   no ticket once the client's own certificate has expired, so that such a
//!   client gets the server's plain "expired" refusal.
//!
//! A ticket carries the client's certificate chain, so a resumed session knows
//! its client as the full handshake did. Under a ticket the CA and the
//! allow-list cannot change: the allow-list is fixed for the server's life, and
//! the CA changes only by a reload, whose new ticket keys make every older
//! ticket stop opening. Only time passes, and a resumed handshake hands out new
//! tickets, so a chain of resumptions could outlast the client certificate:
//! [`session_client`] checks it again as each session opens
//! (`server::accept`). Trust anchors' own dates are not checked, by the
//! handshake (webpki) nor here; `pingpong certs` never issues a leaf that
//! outlives its CA.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::crypto::ring::Ticketer;
use rustls::pki_types::ServerName;
use rustls::server::ProducesTickets;
use rustls::NamedGroup;

use x509_parser::prelude::{FromDer, X509Certificate};

use super::inspect::validity_of;
#[cfg(test)]
use super::{load, TlsMaterial};
use super::{PeerIdentity, TlsError};

/// How long a ticket may be used. Reconnections that gain from resumption come
/// within seconds or minutes of the last session (a failover, a monitor's
/// reconnect); an hour covers them while bounding how long a stolen ticket
/// stays good.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Bytes of the expiry (seconds since the epoch, big-endian) put in front of
/// rustls's session state inside the encrypted ticket.
const EXPIRY_BYTES: usize = 8;

/// Called once per ticket that opens and has not expired: a returning client
/// resuming (unless the rest of its handshake then fails).
pub type OnResume = Arc<dyn Fn() + Send + Sync>;

/// A server configuration's session tickets: stateless, expiring with the
/// certificate, counted when used.
pub struct Tickets {
    keys: Arc<dyn ProducesTickets>,
    /// The end of the server certificate's validity.
    cert_not_after: SystemTime,
    on_resume: OnResume,
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets")
            .field("cert_not_after", &self.cert_not_after)
            .finish_non_exhaustive()
    }
}

impl Tickets {
    /// Tickets with fresh keys for a server whose certificate ends at
    /// `cert_not_after`; `on_resume` is called for each ticket accepted.
    pub fn new(cert_not_after: SystemTime, on_resume: OnResume) -> Result<Self, TlsError> {
        Ok(Self {
            keys: Ticketer::new()?,
            cert_not_after,
            on_resume,
        })
    }

    /// Whole seconds a ticket made at `now` may live: [`TICKET_LIFETIME`],
    /// cut at the certificate's end (0 once it has passed).
    fn seconds_left(&self, now: SystemTime) -> u32 {
        let until_cert_end = self
            .cert_not_after
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        let seconds = TICKET_LIFETIME.min(until_cert_end).as_secs();
        u32::try_from(seconds).unwrap_or(u32::MAX)
    }

    fn encrypt_at(&self, plain: &[u8], now: SystemTime) -> Option<Vec<u8>> {
        let left = self.seconds_left(now);
        if left == 0 {
            return None;
        }
        let expires = unix_seconds(now) + u64::from(left);
        let mut sealed = Vec::with_capacity(EXPIRY_BYTES + plain.len());
        sealed.extend_from_slice(&expires.to_be_bytes());
        sealed.extend_from_slice(plain);
        self.keys.encrypt(&sealed)
    }

    fn decrypt_at(&self, cipher: &[u8], now: SystemTime) -> Option<Vec<u8>> {
        let mut opened = self.keys.decrypt(cipher)?;
        let expiry: [u8; EXPIRY_BYTES] = opened.get(..EXPIRY_BYTES)?.try_into().ok()?;
        if unix_seconds(now) >= u64::from_be_bytes(expiry) {
            return None;
        }
        opened.drain(..EXPIRY_BYTES);
        (self.on_resume)();
        Some(opened)
    }
}

impl ProducesTickets for Tickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.seconds_left(SystemTime::now())
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.encrypt_at(plain, SystemTime::now())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.decrypt_at(cipher, SystemTime::now())
    }
}

/// Servers whose tickets a client keeps (rustls's default).
const CLIENT_SERVERS: usize = 256;

/// A client's tickets: rustls's in-memory store, offering none once the
/// client's own certificate has expired.
#[derive(Debug)]
pub struct ClientTickets {
    cache: ClientSessionMemoryCache,
    /// The end of the client certificate's validity.
    cert_not_after: SystemTime,
}

impl ClientTickets {
    /// An empty store for a client whose certificate ends at `cert_not_after`.
    pub fn new(cert_not_after: SystemTime) -> Self {
        Self {
            cache: ClientSessionMemoryCache::new(CLIENT_SERVERS),
            cert_not_after,
        }
    }

    fn take_at(
        &self,
        server_name: &ServerName<'static>,
        now: SystemTime,
    ) -> Option<Tls13ClientSessionValue> {
        let ticket = self.cache.take_tls13_ticket(server_name)?;
        (now < self.cert_not_after).then_some(ticket)
    }
}

impl ClientSessionStore for ClientTickets {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.cache.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.cache.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.cache.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.cache.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.cache.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.cache.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.take_at(server_name, SystemTime::now())
    }
}

/// What a session learns of its client certificate `leaf` (DER) as it opens,
/// from one parse: who it names, and whether it is within its validity at
/// `now`, the check a session resumed from a ticket skipped (see the module
/// doc). Undecodable, it names nobody and fails as `BadEncoding`.
pub fn session_client(
    leaf: &[u8],
    now: SystemTime,
) -> (Option<PeerIdentity>, Result<(), rustls::CertificateError>) {
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return (None, Err(rustls::CertificateError::BadEncoding));
    };
    let (not_before, not_after) = validity_of(&cert);
    let dates = if now >= not_after {
        Err(rustls::CertificateError::Expired)
    } else if now < not_before {
        Err(rustls::CertificateError::NotValidYet)
    } else {
        Ok(())
    };
    (Some(PeerIdentity::from_parsed(&cert, leaf)), dates)
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counted(cert_not_after: SystemTime) -> (Tickets, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        let seen = count.clone();
        let on_resume: OnResume = Arc::new(move || {
            seen.fetch_add(1, Ordering::Relaxed);
        });
        (Tickets::new(cert_not_after, on_resume).unwrap(), count)
    }

    #[test]
    fn a_ticket_opens_until_its_expiry_and_each_use_is_counted() {
        let now = SystemTime::now();
        let (tickets, count) = counted(now + Duration::from_secs(30 * 86_400));
        let ticket = tickets.encrypt_at(b"session state", now).unwrap();
        assert_eq!(
            tickets.decrypt_at(&ticket, now).as_deref(),
            Some(&b"session state"[..])
        );
        let almost = now + TICKET_LIFETIME - Duration::from_secs(1);
        assert!(tickets.decrypt_at(&ticket, almost).is_some());
        assert_eq!(count.load(Ordering::Relaxed), 2);
        assert!(tickets.decrypt_at(&ticket, now + TICKET_LIFETIME).is_none());
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn no_ticket_outlives_the_server_certificate() {
        let now = SystemTime::now();
        let cert_end = now + Duration::from_secs(90);
        let (tickets, _) = counted(cert_end);
        assert_eq!(tickets.seconds_left(now), 90);
        let ticket = tickets.encrypt_at(b"state", now).unwrap();
        assert!(tickets
            .decrypt_at(&ticket, now + Duration::from_secs(89))
            .is_some());
        assert!(tickets.decrypt_at(&ticket, cert_end).is_none());
        // After the certificate's end no ticket is made at all.
        assert_eq!(tickets.seconds_left(cert_end), 0);
        assert!(tickets.encrypt_at(b"state", cert_end).is_none());
    }

    #[test]
    fn a_client_certificate_is_checked_against_its_dates() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::tls::CertPaths::new(dir.path());
        crate::tls::store::init_single_host(&paths, "ca", 2).unwrap();
        let material = TlsMaterial::from_dir(&paths, crate::tls::LeafRole::Client);
        let certs = load::certificates(&material.cert).unwrap();
        let leaf = super::super::inspect::CertInfo::from_der(&certs[0]).unwrap();
        let dates = |der: &[u8], at| session_client(der, at).1;
        assert_eq!(dates(&certs[0], SystemTime::now()), Ok(()));
        let after = SystemTime::from(leaf.not_after) + Duration::from_secs(1);
        assert_eq!(
            dates(&certs[0], after),
            Err(rustls::CertificateError::Expired)
        );
        let before = SystemTime::from(leaf.not_before) - Duration::from_secs(1);
        assert_eq!(
            dates(&certs[0], before),
            Err(rustls::CertificateError::NotValidYet)
        );
        assert_eq!(
            session_client(b"not a certificate", SystemTime::now()),
            (None, Err(rustls::CertificateError::BadEncoding))
        );
        // The identity comes from the same parse.
        assert_eq!(
            session_client(&certs[0], SystemTime::now()).0,
            crate::tls::PeerIdentity::from_der(&certs[0])
        );
    }

    #[test]
    fn another_configurations_tickets_do_not_open() {
        let end = SystemTime::now() + Duration::from_secs(86_400);
        let (before_reload, _) = counted(end);
        let (after_reload, count) = counted(end);
        let ticket = before_reload.encrypt(b"state").unwrap();
        assert!(after_reload.decrypt(&ticket).is_none());
        assert!(after_reload.decrypt(b"forged").is_none());
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }
}
