//! What a certificate file says, for people: subject, names, purpose, issuer,
//! validity; whether a leaf was signed by a CA certificate, and whether a key
//! file belongs to a certificate. Used by `pingpong certs show`, by the
//! safety checks of `certs` and by the start-up expiry checks.

use std::path::Path;
use std::time::SystemTime;

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{load, PeerIdentity, TlsError};

/// Days before its end at which a certificate in use is worth a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject common name.
    pub subject: String,
    /// Issuer common name.
    pub issuer: String,
    /// Subject alternative names (DNS names, IP addresses, URIs).
    pub sans: Vec<String>,
    /// A CA certificate.
    pub is_ca: bool,
    /// EKU serverAuth.
    pub server_auth: bool,
    /// EKU clientAuth.
    pub client_auth: bool,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The DER bytes.
    der: Vec<u8>,
}

impl CertInfo {
    /// The first certificate of a PEM file.
    pub fn from_file(path: &Path) -> Result<Self, TlsError> {
        let chain = load::certificates(path)?;
        Self::from_der(chain[0].as_ref()).ok_or_else(|| TlsError::BadPem {
            path: path.to_path_buf(),
            what: "certificate",
        })
    }

    /// Parses DER; `None` when it is not an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        // Subject and names as the peer-identity code reads them.
        let identity = PeerIdentity::from_parsed(&cert, der);
        let issuer = cert
            .issuer()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or("")
            .to_string();
        let eku = cert.extended_key_usage().ok().flatten().map(|e| e.value);
        Some(Self {
            subject: identity.common_name.unwrap_or_default(),
            issuer,
            sans: identity.sans,
            is_ca: cert.is_ca(),
            server_auth: eku.is_some_and(|e| e.server_auth),
            client_auth: eku.is_some_and(|e| e.client_auth),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            der: der.to_vec(),
        })
    }

    /// Whether `ca`'s key signed this certificate.
    pub fn signed_by(&self, ca: &CertInfo) -> bool {
        let (Ok((_, me)), Ok((_, issuer))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&ca.der),
        ) else {
            return false;
        };
        me.verify_signature(Some(issuer.public_key())).is_ok()
    }

    /// Whole days from `now` to the end of validity (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.not_after <= now
    }

    /// The raw public key (the SubjectPublicKeyInfo's BIT STRING).
    fn public_key(&self) -> Vec<u8> {
        X509Certificate::from_der(&self.der)
            .map(|(_, cert)| cert.public_key().subject_public_key.data.to_vec())
            .unwrap_or_default()
    }
}

/// The validity period (not before, not after) of the certificate `der`.
/// `None` when it is not an X.509 certificate.
pub fn validity(der: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(validity_of(&cert))
}

/// The validity period (not before, not after) of a parsed certificate.
pub(crate) fn validity_of(cert: &X509Certificate<'_>) -> (SystemTime, SystemTime) {
    let validity = cert.validity();
    (
        validity.not_before.to_datetime().into(),
        validity.not_after.to_datetime().into(),
    )
}

/// Whether the private key in `key` belongs to the certificate in `cert`.
pub fn key_matches(cert: &Path, key: &Path) -> Result<bool, TlsError> {
    let info = CertInfo::from_file(cert)?;
    let pem = std::fs::read_to_string(key).map_err(|e| TlsError::io(key, e))?;
    let pair = rcgen::KeyPair::from_pem(&pem).map_err(|_| TlsError::BadPem {
        path: key.to_path_buf(),
        what: "private key",
    })?;
    Ok(pair.public_key_raw() == info.public_key().as_slice())
}

/// A date as people write it: `2027-01-31`.
pub fn date(when: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        when.year(),
        u8::from(when.month()),
        when.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::generate::{issue_leaf, new_ca, Validity};
    use crate::tls::LeafRole;

    fn info(pem: &str) -> CertInfo {
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        CertInfo::from_der(der.as_ref()).unwrap()
    }

    use rustls_pki_types::pem::PemObject;

    #[test]
    fn a_leaf_says_what_it_is_and_who_signed_it() {
        let ca = new_ca("lab CA", Validity::days(30)).unwrap();
        let other = new_ca("other CA", Validity::days(30)).unwrap();
        let leaf = issue_leaf(
            &ca,
            LeafRole::Server,
            "web1",
            &["web1.lan".into(), "192.0.2.10".into(), "::1".into()],
            Validity::days(10),
        )
        .unwrap();
        let (leaf, ca, other) = (info(&leaf.cert), info(&ca.cert), info(&other.cert));
        assert_eq!(leaf.subject, "web1");
        assert_eq!(leaf.issuer, "lab CA");
        assert_eq!(leaf.sans, ["web1.lan", "192.0.2.10", "::1"]);
        assert!(leaf.server_auth && !leaf.client_auth && !leaf.is_ca);
        assert!(ca.is_ca);
        assert!(leaf.signed_by(&ca));
        assert!(!leaf.signed_by(&other));
        let now = OffsetDateTime::now_utc();
        assert!(
            (9..=10).contains(&leaf.days_left(now)),
            "{}",
            leaf.days_left(now)
        );
        assert!(!leaf.expired(now));
        assert!(leaf.expired(now + time::Duration::days(11)));
    }

    #[test]
    fn a_key_matches_only_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca("lab CA", Validity::days(30)).unwrap();
        let a = issue_leaf(&ca, LeafRole::Client, "a", &[], Validity::days(1)).unwrap();
        let b = issue_leaf(&ca, LeafRole::Client, "b", &[], Validity::days(1)).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let (a_cert, a_key, b_key) = (
            write("a.pem", &a.cert),
            write("a.key", &a.key),
            write("b.key", &b.key),
        );
        assert!(key_matches(&a_cert, &a_key).unwrap());
        assert!(!key_matches(&a_cert, &b_key).unwrap());
        let junk = write("junk.key", "not a key");
        assert!(matches!(
            key_matches(&a_cert, &junk),
            Err(TlsError::BadPem { .. })
        ));
        assert_eq!(date(OffsetDateTime::UNIX_EPOCH), "1970-01-01");
    }
}
