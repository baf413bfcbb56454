//! What a certificate says about its holder: names for logs, and a fingerprint.

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The identity a peer's certificate claims (after TLS verified it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// DNS names, IP addresses and URIs of the subjectAltName extension.
    pub sans: Vec<String>,
    /// SHA-256 of the certificate, lowercase hex.
    pub fingerprint: String,
}

impl PeerIdentity {
    /// Parses the end-entity certificate `der`. Returns `None` for undecodable input.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        Some(Self::from_parsed(&cert, der))
    }

    /// The identity `cert`, already parsed from `der`, claims.
    pub(crate) fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> Self {
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        let sans = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(d) => Some(d.to_string()),
                        GeneralName::URI(u) => Some(u.to_string()),
                        GeneralName::IPAddress(ip) => ip_to_string(ip),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            common_name,
            sans,
            fingerprint: fingerprint_sha256(der),
        }
    }

    /// A short human form: the CN, else the first SAN, else the fingerprint's start.
    pub fn display_name(&self) -> String {
        self.common_name
            .clone()
            .or_else(|| self.sans.first().cloned())
            .unwrap_or_else(|| format!("sha256:{}", &self.fingerprint[..16]))
    }
}

impl std::fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display_name())?;
        if !self.sans.is_empty() {
            write!(f, " (SAN {})", self.sans.join(", "))?;
        }
        Ok(())
    }
}

fn ip_to_string(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// SHA-256 of a DER certificate, lowercase hex.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::generate::{issue_leaf, new_ca, LeafRole, Validity};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn reads_cn_and_sans() {
        let ca = new_ca("ca", Validity::days(1)).unwrap();
        let leaf = issue_leaf(
            &ca,
            LeafRole::Client,
            "bob",
            &["bob.example".into(), "::1".into()],
            Validity::days(1),
        )
        .unwrap();
        let der = CertificateDer::from_pem_slice(leaf.cert.as_bytes()).unwrap();
        let id = PeerIdentity::from_der(&der).unwrap();
        assert_eq!(id.common_name.as_deref(), Some("bob"));
        assert_eq!(id.sans, vec!["bob.example".to_string(), "::1".to_string()]);
        assert_eq!(id.fingerprint.len(), 64);
        assert_eq!(id.to_string(), "bob (SAN bob.example, ::1)");
    }

    #[test]
    fn garbage_is_not_an_identity() {
        assert_eq!(PeerIdentity::from_der(b"not a certificate"), None);
    }
}
