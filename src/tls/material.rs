//! The three files a peer needs, and the checks made before they are used.

use std::path::PathBuf;

use super::generate::LeafRole;
use super::{load, CertPaths, TlsError};

/// The three files a peer needs: its certificate chain, its key, and the CA it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// Own certificate (PEM, leaf first).
    pub cert: PathBuf,
    /// Own private key (PEM).
    pub key: PathBuf,
    /// CA certificate(s) the peer must chain to (PEM).
    pub ca: PathBuf,
}

impl TlsMaterial {
    /// The files of `role` in a certificate folder.
    pub fn from_dir(paths: &CertPaths, role: LeafRole) -> Self {
        Self {
            cert: paths.leaf_cert(role),
            key: paths.leaf_key(role),
            ca: paths.ca_cert(),
        }
    }

    /// Checks the files before they are used: the key belongs to the
    /// certificate, and neither it nor the CA has expired. Returns a warning
    /// when the certificate expires within
    /// [`EXPIRY_WARNING_DAYS`](super::inspect::EXPIRY_WARNING_DAYS).
    pub fn check(&self, role: LeafRole) -> Result<Option<String>, TlsError> {
        use super::inspect::{date, key_matches, CertInfo, EXPIRY_WARNING_DAYS};
        let now = time::OffsetDateTime::now_utc();
        if !key_matches(&self.cert, &self.key)? {
            return Err(TlsError::KeyMismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
            });
        }
        for (path, what) in [(&self.cert, role.file_stem()), (&self.ca, "ca")] {
            let info = CertInfo::from_file(path)?;
            if info.expired(now) {
                return Err(TlsError::Expired {
                    path: path.clone(),
                    on: date(info.not_after),
                    role: what,
                });
            }
        }
        let leaf = CertInfo::from_file(&self.cert)?;
        let days = leaf.days_left(now);
        Ok((days < EXPIRY_WARNING_DAYS).then(|| {
            format!(
                "{} expires on {} (in {days} days). Fix: issue a new one where the CA is \
                 (`pingpong certs issue {} --name NAME --force`) and put it in place",
                self.cert.display(),
                date(leaf.not_after),
                role.file_stem()
            )
        }))
    }

    /// SHA-256 fingerprint of the own (leaf) certificate.
    pub fn leaf_fingerprint(&self) -> Result<String, TlsError> {
        let chain = load::certificates(&self.cert)?;
        Ok(super::fingerprint_sha256(&chain[0]))
    }
}
