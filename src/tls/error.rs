//! Errors of certificate handling.

use std::path::PathBuf;

/// Why certificate material could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM object of the expected kind.
    #[error("{path} holds no {what} (expected a PEM file)")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What was looked for ("certificate", "private key").
        what: &'static str,
    },
    /// A file that would be written already exists.
    #[error("refusing to overwrite {path}: pass --force to replace it")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The CA files needed to issue a certificate are missing.
    #[error("no CA in {dir}: run `pingpong certs init` first")]
    NoCa {
        /// The certificate folder.
        dir: PathBuf,
    },
    /// A name cannot be put in a certificate.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the material (for example a key that does not match its certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The CA certificate cannot be used as a trust anchor.
    #[error("CA certificate {path} is not usable as a trust anchor: {reason}")]
    BadCa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl TlsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TlsError::Io {
            path: path.into(),
            source,
        }
    }
}
