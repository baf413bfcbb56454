//! How a client verifies a server (DESIGN.md §7, revised): the chain to the
//! deployment CA, the validity period and the serverAuth EKU always; then the
//! name, when the name is one the user gave or DNS gave (the URL host, an SRV or
//! DNS-SD target, or `--server-name`, which pins one name for every server).
//!
//! A host name learnt from multicast DNS is not an identity: any machine on the
//! link may claim it, and mdns-sd renames clashing hosts (`clone.local` becomes
//! `clone-2.local`, a name no certificate carries). For those names the
//! deployment CA is the identity, as libp2p, iroh and Syncthing rely on keys
//! rather than names on a LAN; the client shows and logs the names the
//! certificate does carry. A certificate from another CA is refused everywhere.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Most multicast names remembered: a LAN's worth of hosts; past it the oldest
/// are not dropped, new ones are simply checked by name (the safe side).
const MAX_MULTICAST_NAMES: usize = 4096;

/// Host names learnt from multicast DNS (`*.local`), shared between a
/// connector, which adds the names of the mDNS candidates it dials, and its
/// verifier, which checks no name for them.
#[derive(Debug, Clone, Default)]
pub struct MulticastNames(Arc<Mutex<HashSet<String>>>);

impl MulticastNames {
    /// Marks `host` (an mDNS host name) as not an identity. Names outside
    /// `.local` (RFC 6762's multicast domain) are ignored.
    pub fn add(&self, host: &str) {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if !host.ends_with(".local") {
            return;
        }
        let mut names = self.0.lock().expect("multicast names lock");
        if names.len() < MAX_MULTICAST_NAMES {
            names.insert(host);
        }
    }

    /// Whether `host` was learnt from multicast DNS.
    pub fn contains(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.lock().expect("multicast names lock").contains(&host)
    }
}

/// The client's server-certificate verifier (see the module documentation).
#[derive(Debug)]
pub struct ServerVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    pinned: Option<ServerName<'static>>,
    multicast: MulticastNames,
}

impl ServerVerifier {
    /// Verifies against `roots`; with `pinned`, every server must carry that
    /// name; names in `multicast` are not checked (unless pinned).
    pub fn new(
        roots: Arc<RootCertStore>,
        algorithms: WebPkiSupportedAlgorithms,
        pinned: Option<ServerName<'static>>,
        multicast: MulticastNames,
    ) -> Self {
        Self {
            roots,
            algorithms,
            pinned,
            multicast,
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        dialled: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        // Chain to the CA, validity and the serverAuth EKU, for every server.
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        match (&self.pinned, dialled) {
            (Some(pinned), _) => verify_server_name(&cert, pinned)?,
            (None, ServerName::DnsName(name)) if self.multicast.contains(name.as_ref()) => {}
            (None, name) => verify_server_name(&cert, name)?,
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
