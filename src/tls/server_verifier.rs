//! How a client verifies a server (docs/security.md, "Which name the client
//! checks"): the chain to the deployment CA, the validity period and the
//! serverAuth EKU always; then the name, when the name is one the user gave or
//! DNS gave (the URL host, an SRV or DNS-SD target, or `--server-name`, which
//! pins one name for every server).
//!
//! A host name learnt from multicast DNS is not an identity: any machine on the
//! link may claim it, and mdns-sd renames clashing hosts (`clone.local` becomes
//! `clone-2.local`, a name no certificate carries). For those names the
//! deployment CA is the identity, as libp2p, iroh and Syncthing rely on keys
//! rather than names on a LAN; the client shows and logs the names the
//! certificate does carry. A certificate from another CA is refused everywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// What identifies a server besides its chain to the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerIdentity {
    /// The name dialled (the URL host, an SRV or DNS-SD target) must be in
    /// the certificate.
    Name,
    /// The deployment CA is the identity (servers found over mDNS): only the
    /// chain, validity and EKU are checked, and a pinned name if there is one.
    CaOnly,
}

/// Most verdicts kept at once: one per server being dialled; a client races
/// a few, so a full table means nobody took them and it starts again.
const MAX_REJECTIONS: usize = 64;

/// The verifier's typed verdicts, by the name dialled, for the connector to
/// explain a failed handshake by variant: the QUIC error that reaches it
/// carries the verdict only as text.
#[derive(Debug, Default)]
pub struct Rejections(Mutex<HashMap<String, rustls::CertificateError>>);

impl Rejections {
    fn record(&self, dialled: &ServerName<'_>, error: &rustls::Error) {
        if let rustls::Error::InvalidCertificate(verdict) = error {
            let mut table = self.0.lock().expect("rejections lock");
            if table.len() >= MAX_REJECTIONS {
                table.clear();
            }
            table.insert(dialled.to_str().to_ascii_lowercase(), verdict.clone());
        }
    }

    /// The verdict on the server dialled as `name` (any case), if it was
    /// refused; taking it also clears what an earlier, abandoned attempt left.
    pub fn take(&self, name: &str) -> Option<rustls::CertificateError> {
        self.0
            .lock()
            .expect("rejections lock")
            .remove(&name.to_ascii_lowercase())
    }
}

/// The client's server-certificate verifier (see the module documentation).
#[derive(Debug)]
pub struct ServerVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    pinned: Option<ServerName<'static>>,
    identity: ServerIdentity,
    rejections: Option<Arc<Rejections>>,
}

impl ServerVerifier {
    /// Verifies against `roots`; with `pinned`, every server must carry that
    /// name; otherwise `identity` says whether the dialled name is checked.
    pub fn new(
        roots: Arc<RootCertStore>,
        algorithms: WebPkiSupportedAlgorithms,
        pinned: Option<ServerName<'static>>,
        identity: ServerIdentity,
    ) -> Self {
        Self {
            roots,
            algorithms,
            pinned,
            identity,
            rejections: None,
        }
    }

    /// Keeps each refusal's typed verdict in `rejections`.
    pub fn recording(mut self, rejections: Arc<Rejections>) -> Self {
        self.rejections = Some(rejections);
        self
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        dialled: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        // Chain to the CA, validity and the serverAuth EKU, for every server.
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        match (&self.pinned, self.identity) {
            (Some(pinned), _) => verify_server_name(&cert, pinned),
            (None, ServerIdentity::CaOnly) => Ok(()),
            (None, ServerIdentity::Name) => verify_server_name(&cert, dialled),
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
        self.check(end_entity, intermediates, dialled, now)
            .inspect_err(|error| {
                if let Some(rejections) = &self.rejections {
                    rejections.record(dialled, error);
                }
            })?;
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
