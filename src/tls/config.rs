//! rustls configurations for mutually-authenticated TLS 1.3 with ALPN `h3`, on
//! the ring provider. Verification is never switched off: the only knob is which
//! name the server certificate must carry.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::inspect::validity;
use super::resumption::{ClientTickets, OnResume, Tickets};
use super::server_verifier::{Rejections, ServerIdentity, ServerVerifier};
use super::{load, PeerIdentity, TlsError, TlsMaterial};

/// ALPN protocol of HTTP/3, which WebTransport runs on.
pub const ALPN_H3: &[u8] = b"h3";

/// The crypto provider of every config: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn root_store(material: &TlsMaterial) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load::certificates(&material.ca)? {
        roots.add(cert).map_err(|e| TlsError::BadCa {
            path: material.ca.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(roots))
}

/// A server config that requires a client certificate chaining to the CA.
pub fn server_tls_config(material: &TlsMaterial) -> Result<rustls::ServerConfig, TlsError> {
    server_tls_config_allowing(material, &[], Arc::new(|| {}))
}

/// Like [`server_tls_config`]; with a non-empty `allowed_clients`, a client is
/// also refused (TLS alert 49, access denied) unless its certificate's common
/// name or one of its subject alternative names is on the list. Returning
/// clients resume with this configuration's [`Tickets`], and `on_resume` is
/// called for each.
pub fn server_tls_config_allowing(
    material: &TlsMaterial,
    allowed_clients: &[String],
    on_resume: OnResume,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = provider();
    let verifier = client_verifier(material, allowed_clients)?;
    let chain = load::certificates(&material.cert)?;
    let not_after = leaf_not_after(material, &chain)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, load::private_key(&material.key)?)?;
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    config.ticketer = Arc::new(Tickets::new(not_after, on_resume)?);
    Ok(config)
}

/// When the leaf of `chain`, read from `material`'s certificate file, expires.
fn leaf_not_after(
    material: &TlsMaterial,
    chain: &[CertificateDer<'_>],
) -> Result<std::time::SystemTime, TlsError> {
    chain
        .first()
        .and_then(|leaf| validity(leaf))
        .map(|(_, not_after)| not_after)
        .ok_or_else(|| TlsError::BadPem {
            path: material.cert.clone(),
            what: "certificate",
        })
}

/// How a server checks client certificates in the handshake: the chain to the
/// CA, the clientAuth EKU and the validity period, then, with a non-empty
/// `allowed_clients`, the allow-list.
fn client_verifier(
    material: &TlsMaterial,
    allowed_clients: &[String],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let webpki = WebPkiClientVerifier::builder_with_provider(root_store(material)?, provider())
        .build()
        .map_err(|e| TlsError::BadCa {
            path: material.ca.clone(),
            reason: e.to_string(),
        })?;
    Ok(if allowed_clients.is_empty() {
        webpki
    } else {
        Arc::new(AllowListVerifier {
            inner: webpki,
            names: allowed_clients.to_vec(),
        })
    })
}

/// A client config that verifies the server against the CA and presents the
/// client certificate. With `server_name`, the server certificate must carry that
/// name instead of the one the client connected to.
pub fn client_tls_config(
    material: &TlsMaterial,
    server_name: Option<&str>,
) -> Result<rustls::ClientConfig, TlsError> {
    client_tls_config_for(material, server_name, ServerIdentity::Name)
}

/// Like [`client_tls_config`], choosing what identifies a server besides its
/// chain: the dialled name, or for servers found over mDNS the CA alone (see
/// [`server_verifier`](super::server_verifier)).
pub fn client_tls_config_for(
    material: &TlsMaterial,
    server_name: Option<&str>,
    identity: ServerIdentity,
) -> Result<rustls::ClientConfig, TlsError> {
    client_tls_config_recording(material, server_name, identity, None)
}

/// Like [`client_tls_config_for`], keeping the verifier's typed verdict on
/// each refused server in `rejections` (the connector explains refusals by
/// them).
pub fn client_tls_config_recording(
    material: &TlsMaterial,
    server_name: Option<&str>,
    identity: ServerIdentity,
    rejections: Option<Arc<Rejections>>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let pinned = server_name
        .map(|name| {
            ServerName::try_from(name.to_string()).map_err(|e| TlsError::InvalidName {
                name: name.to_string(),
                reason: e.to_string(),
            })
        })
        .transpose()?;
    let mut verifier = ServerVerifier::new(
        root_store(material)?,
        provider.signature_verification_algorithms,
        pinned,
        identity,
    );
    if let Some(rejections) = rejections {
        verifier = verifier.recording(rejections);
    }
    let chain = load::certificates(&material.cert)?;
    let not_after = leaf_not_after(material, &chain)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, load::private_key(&material.key)?)?;
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    config.resumption = rustls::client::Resumption::store(Arc::new(ClientTickets::new(not_after)));
    Ok(config)
}

/// Full WebPKI verification of a client, then its identity against an
/// allow-list (`pingpong server --allow-client NAME`).
#[derive(Debug)]
struct AllowListVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    names: Vec<String>,
}

impl AllowListVerifier {
    fn allows(&self, identity: &PeerIdentity) -> bool {
        identity
            .common_name
            .iter()
            .chain(&identity.sans)
            .any(|name| self.names.iter().any(|allowed| allowed == name))
    }
}

impl ClientCertVerifier for AllowListVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        match PeerIdentity::from_der(end_entity) {
            Some(identity) if self.allows(&identity) => Ok(verified),
            identity => {
                let who =
                    identity.map_or_else(|| "an unreadable certificate".into(), |i| i.to_string());
                tracing::warn!(client = %who, "client refused: not on the allow-list (--allow-client)");
                // rustls sends this as alert 49, access denied.
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
