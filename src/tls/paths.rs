//! The certificate folder: `ca.pem ca.key server.pem server.key client.pem client.key`.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the certificate folder.
pub const HOME_ENV: &str = "PINGPONG_HOME";

/// The certificate folder when nothing else is given: `$PINGPONG_HOME`, else the
/// platform data dir (`~/.local/share/pingpong` on Linux), else `./.pingpong`.
pub fn default_home() -> PathBuf {
    if let Some(home) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::data_dir()
        .map(|d| d.join("pingpong"))
        .unwrap_or_else(|| PathBuf::from(".pingpong"))
}

/// The six files of a certificate folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The folder.
    pub dir: PathBuf,
}

impl CertPaths {
    /// The files of folder `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// Certificate of a leaf role (`server.pem` / `client.pem`).
    pub fn leaf_cert(&self, role: crate::tls::LeafRole) -> PathBuf {
        self.dir.join(format!("{}.pem", role.file_stem()))
    }

    /// Private key of a leaf role (`server.key` / `client.key`).
    pub fn leaf_key(&self, role: crate::tls::LeafRole) -> PathBuf {
        self.dir.join(format!("{}.key", role.file_stem()))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
