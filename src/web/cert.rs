//! The agent's own certificate for the browser. Browsers cannot verify it
//! against a CA, so the page pins it with `serverCertificateHashes`, which
//! Chromium and Firefox accept only for an ECDSA P-256 (or RSA) X.509v3
//! certificate valid for at most 14 days. A new one is made at every start and
//! never written to disk.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::WebError;

/// Validity of the certificate: 13 days from an hour ago, inside the 14 days
/// browsers allow for hash-pinned certificates (the hour absorbs clock skew
/// between the agent and the browser's machine).
const BACKDATE: Duration = Duration::hours(1);
/// See [`BACKDATE`].
const LIFETIME: Duration = Duration::days(13);

/// A fresh self-signed certificate and what the page needs to trust it.
pub struct BrowserCert {
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    /// Its private key, PKCS#8 DER.
    pub key: PrivatePkcs8KeyDer<'static>,
    /// SHA-256 of `cert`, for `serverCertificateHashes`.
    pub sha256: [u8; 32],
}

impl BrowserCert {
    /// Makes one for `localhost`, 127.0.0.1, ::1 and `extra` (the listen address).
    pub fn generate(extra: Option<IpAddr>) -> Result<Self, WebError> {
        let error = |e: rcgen::Error| WebError::Certificate(e.to_string());
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(error)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(error)?;
        let mut ips = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        ips.extend(extra.filter(|ip| !ips.contains(ip)));
        params
            .subject_alt_names
            .extend(ips.into_iter().map(SanType::IpAddress));
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "pingpong web (this run only)");
        params.distinguished_name = name;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now - BACKDATE + LIFETIME;
        let cert = params.self_signed(&key).map_err(error)?;
        let der = cert.der().clone();
        let sha256 = Sha256::digest(&der).into();
        Ok(Self {
            cert: der,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            sha256,
        })
    }

    /// A rustls configuration serving this certificate over HTTP/3, no client
    /// certificates (a browser cannot present one over WebTransport).
    pub fn tls_config(&self) -> Result<rustls::ServerConfig, WebError> {
        let mut config =
            rustls::ServerConfig::builder_with_provider(crate::tls::config::provider())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(|e| WebError::Certificate(e.to_string()))?
                .with_no_client_auth()
                .with_single_cert(
                    vec![self.cert.clone()],
                    PrivateKeyDer::Pkcs8(self.key.clone_key()),
                )
                .map_err(|e| WebError::Certificate(e.to_string()))?;
        config.alpn_protocols = vec![b"h3".to_vec()];
        Ok(config)
    }
}

/// The wtransport configuration of the page endpoint with `cert`.
pub(crate) fn endpoint_config(
    bind: std::net::SocketAddr,
    cert: &BrowserCert,
) -> Result<wtransport::ServerConfig, WebError> {
    Ok(wtransport::ServerConfig::builder()
        .with_bind_address(bind)
        .with_custom_tls(cert.tls_config()?)
        .keep_alive_interval(Some(std::time::Duration::from_secs(3)))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn browsers_accept_its_shape() {
        let cert = BrowserCert::generate(None).unwrap();
        let (_, parsed) = X509Certificate::from_der(&cert.cert).unwrap();
        // X.509 v3 with extensions, ECDSA P-256, at most 14 days.
        assert_eq!(parsed.version().0, 2);
        assert!(!parsed.extensions().is_empty());
        assert_eq!(
            parsed.public_key().algorithm.algorithm.to_id_string(),
            "1.2.840.10045.2.1"
        );
        let span =
            parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp();
        assert!(span <= 14 * 24 * 3600, "valid for {span} s");
        assert!(parsed.validity().is_valid());
        assert_eq!(cert.sha256, <[u8; 32]>::from(Sha256::digest(&cert.cert)));
        cert.tls_config().unwrap();
    }

    #[test]
    fn each_start_gets_a_new_key_and_certificate() {
        // The same arguments twice: only a new key (and serial) can tell them apart.
        let a = BrowserCert::generate(None).unwrap();
        let b = BrowserCert::generate(None).unwrap();
        let public_key = |cert: &BrowserCert| {
            let (_, parsed) = X509Certificate::from_der(&cert.cert).unwrap();
            parsed.public_key().subject_public_key.data.to_vec()
        };
        assert_ne!(public_key(&a), public_key(&b), "the key did not change");
        assert_ne!(a.key.secret_pkcs8_der(), b.key.secret_pkcs8_der());
        assert_ne!(a.sha256, b.sha256);
    }
}
