//! Errors of certificate handling.

use std::path::PathBuf;

/// Why certificate material could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error (in the message, not a source: said once).
        error: std::io::Error,
    },
    /// A file holds no usable PEM object of the expected kind.
    #[error(
        "{path} holds no readable {what}: it is not PEM, or its PEM is damaged. Fix: put back \
         the file `pingpong certs` wrote (`pingpong certs show` says what a folder holds)"
    )]
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
    /// The folder trusts a CA (ca.pem) whose key is on another machine: a
    /// certificate is issued there, and a new CA here would be trusted by no one.
    #[error(
        "{dir} has ca.pem but not ca.key: the CA's key stays on the machine where the CA was made, \
         and `pingpong certs init` here would make a second CA that nobody trusts. Fix: {}",
        issued_elsewhere(dir, role)
    )]
    CaKeyElsewhere {
        /// The certificate folder.
        dir: PathBuf,
        /// `server` or `client`: what was to be issued.
        role: &'static str,
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
    /// The folder trusts a CA whose key is elsewhere, and lacks this machine's
    /// own certificate: it is issued on the CA machine, never made up here.
    #[error(
        "{dir} has ca.pem but no {role}.pem and {role}.key, and no ca.key to issue them here. Fix: {}",
        issued_elsewhere(dir, role)
    )]
    LeafMissing {
        /// The certificate folder.
        dir: PathBuf,
        /// `server` or `client`.
        role: &'static str,
    },
    /// A key file does not belong to the certificate it is used with.
    #[error(
        "{key} is not the key of {cert} (their public keys differ). Fix: use the key that was \
         written with that certificate, or issue a new pair with `pingpong certs issue --force`"
    )]
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// The CA key is not the CA certificate's: what it signed would not verify.
    #[error(
        "{key} is not the key of {cert} (their public keys differ), so nothing it signs would be \
         trusted. Fix: put back the ca.key made with that ca.pem, or make a new CA with \
         `pingpong certs init --force` and reissue every certificate"
    )]
    CaKeyMismatch {
        /// The CA certificate.
        cert: PathBuf,
        /// The CA key.
        key: PathBuf,
    },
    /// A certificate would be valid longer than the CA that signs it.
    #[error(
        "a {days}-day certificate would outlive its CA ({ca} expires on {ca_until}). \
         Fix: --days {max_days} or fewer, or make a new CA with `pingpong certs init --force`"
    )]
    OutlivesCa {
        /// Days asked for.
        days: u32,
        /// The CA certificate.
        ca: PathBuf,
        /// When it expires (YYYY-MM-DD).
        ca_until: String,
        /// The most days a leaf can have.
        max_days: i64,
    },
    /// A certificate in use has expired.
    #[error(
        "{path} expired on {on}. Fix: issue a new one (`pingpong certs issue {role} --name NAME --force` \
         where the CA is) and put it in place"
    )]
    Expired {
        /// The certificate.
        path: PathBuf,
        /// When (YYYY-MM-DD).
        on: String,
        /// `server`, `client` or `ca`.
        role: &'static str,
    },
    /// A certificate signing request cannot be used.
    #[error("cannot sign {path}: {reason}. Fix: make the request with `pingpong certs request` and copy it unchanged")]
    BadRequest {
        /// The request file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The folder lacks this machine's certificates and cannot be written, so no
    /// development CA can be made there (a read-only mount, a service's
    /// configuration folder).
    #[error(
        "{dir} has no {missing} and cannot be written ({error}), so no development CA can be made \
         there. Fix: put this machine's certificates in it (`pingpong certs request {role}` there, \
         signed with `pingpong certs sign` where the CA is), or point PINGPONG_HOME (or --dir) at a \
         writable folder"
    )]
    ReadOnlyFolder {
        /// The certificate folder.
        dir: PathBuf,
        /// The files it lacks ("ca.pem and server.pem").
        missing: String,
        /// `server` or `client`.
        role: &'static str,
        /// Why it cannot be written (in the message, not a source: said once).
        error: std::io::Error,
    },
    /// The certificate folder is something else.
    #[error("{path} is not a folder. Fix: point PINGPONG_HOME (or --dir) at a folder for the certificates")]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The CA certificate cannot be used as a trust anchor.
    #[error("CA certificate {path} is not usable as a trust anchor: {reason}")]
    BadCa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The two ways a `role` certificate for `dir` is had from the machine that
/// holds the CA key: issue it there and copy the bundle, or request it here
/// and have it signed there.
fn issued_elsewhere(dir: &std::path::Path, role: &str) -> String {
    let dir = dir.display();
    format!(
        "on the machine that holds ca.key, run `pingpong certs issue {role} --name NAME --out BUNDLE` \
         and copy BUNDLE's files into {dir}; or run `pingpong certs request {role} --name NAME` here, \
         `pingpong certs sign {role} {role}.csr` there, and copy the {role}.pem it writes back here"
    )
}
impl TlsError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        TlsError::Io {
            path: path.into(),
            error,
        }
    }
}
