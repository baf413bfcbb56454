//! Certificate rotation: the server notices when its certificate, key or CA
//! files change (cert-manager rewrites them through a symlink swap) and loads
//! them for new sessions; open sessions keep theirs. A file that does not load
//! (half-written, wrong key) is logged and the old material kept.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::tls::resumption::OnResume;
use crate::tls::{server_tls_config_allowing, TlsError, TlsMaterial};

/// How often the files are checked. Certificates rotate over hours or days; a
/// few seconds of delay is invisible, and reading three small files costs
/// nothing.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// What the watcher saw.
#[derive(Debug)]
pub enum Reload {
    /// The files are as they were.
    Unchanged,
    /// New material that loads: its rustls configuration and leaf fingerprint.
    Changed(Box<rustls::ServerConfig>, String),
    /// The files changed but do not load; the old material stays.
    Rejected(TlsError),
}

/// Watches the three files of a server's material.
pub struct CertWatcher {
    material: TlsMaterial,
    allowed_clients: Vec<String>,
    on_resume: OnResume,
    seen: Option<[u8; 32]>,
}

impl std::fmt::Debug for CertWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertWatcher")
            .field("material", &self.material)
            .field("allowed_clients", &self.allowed_clients)
            .finish_non_exhaustive()
    }
}

impl CertWatcher {
    /// Starts from the files as they are now; reloaded configurations keep the
    /// client allow-list and report resumptions to `on_resume` (their session
    /// tickets are new: those of the old files no longer open).
    pub fn new(material: TlsMaterial, allowed_clients: Vec<String>, on_resume: OnResume) -> Self {
        let seen = digest(&material);
        Self {
            material,
            allowed_clients,
            on_resume,
            seen,
        }
    }

    /// The files watched.
    pub fn material(&self) -> &TlsMaterial {
        &self.material
    }

    /// Looks at the files again.
    pub fn check(&mut self) -> Reload {
        let now = digest(&self.material);
        if now == self.seen {
            return Reload::Unchanged;
        }
        self.seen = now;
        let loaded = server_tls_config_allowing(
            &self.material,
            &self.allowed_clients,
            self.on_resume.clone(),
        )
        .and_then(|config| Ok((config, self.material.leaf_fingerprint()?)));
        match loaded {
            Ok((config, fingerprint)) => Reload::Changed(Box::new(config), fingerprint),
            Err(error) => Reload::Rejected(error),
        }
    }
}

/// The contents' digest, or `None` when a file cannot be read (mid-swap).
fn digest(material: &TlsMaterial) -> Option<[u8; 32]> {
    let mut hasher = Sha256::new();
    for path in [&material.cert, &material.key, &material.ca] {
        hasher.update(std::fs::read(path).ok()?);
    }
    Some(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{store, CertPaths, LeafRole};

    #[test]
    fn reports_changes_once_and_rejects_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path());
        store::init_single_host(&paths, "ca", 1).unwrap();
        let material = TlsMaterial::from_dir(&paths, LeafRole::Server);
        let mut watcher =
            CertWatcher::new(material.clone(), Vec::new(), std::sync::Arc::new(|| {}));
        assert!(matches!(watcher.check(), Reload::Unchanged));
        // A new leaf from the same CA loads.
        store::issue(
            &paths,
            LeafRole::Server,
            "localhost",
            &["localhost".into()],
            crate::tls::generate::Validity::days(1),
            true,
        )
        .unwrap();
        assert!(matches!(watcher.check(), Reload::Changed(..)));
        assert!(matches!(watcher.check(), Reload::Unchanged));
        // A half-written certificate does not.
        let pem = std::fs::read_to_string(&material.cert).unwrap();
        std::fs::write(&material.cert, &pem[..pem.len() / 2]).unwrap();
        assert!(matches!(watcher.check(), Reload::Rejected(_)));
    }
}
