//! Certificate folders for tests: a CA with loopback and named-host leaves,
//! extra and expired leaves, and the `--cert --key --ca` arguments.

use std::path::{Path, PathBuf};

use pingpong::tls::generate::{self, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

/// A certificate folder with a CA, a server leaf for loopback and a client leaf.
pub fn pki(dir: &Path, ca_name: &str) -> CertPaths {
    let paths = CertPaths::new(dir);
    store::init_single_host(&paths, ca_name, 30).unwrap();
    paths
}

/// Writes a leaf of `role` signed by the CA of `paths` into `out` as `<stem>.pem/.key`.
pub fn extra_leaf(
    paths: &CertPaths,
    out: &Path,
    stem: &str,
    role: LeafRole,
    name: &str,
    sans: &[&str],
    validity: Validity,
) -> (PathBuf, PathBuf) {
    let ca = store::load_ca(paths).unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let leaf = generate::issue_leaf(&ca, role, name, &sans, validity).unwrap();
    let cert = out.join(format!("{stem}.pem"));
    let key = out.join(format!("{stem}.key"));
    store::write_file(&cert, &leaf.cert, false, true).unwrap();
    store::write_file(&key, &leaf.key, true, true).unwrap();
    (cert, key)
}

/// A validity window that ended yesterday.
pub fn expired() -> Validity {
    let now = time::OffsetDateTime::now_utc();
    Validity {
        not_before: now - time::Duration::days(10),
        not_after: now - time::Duration::days(1),
    }
}

/// `--cert --key --ca` arguments for role files of a folder.
pub fn tls_args(paths: &CertPaths, role: LeafRole) -> Vec<String> {
    vec![
        "--cert".into(),
        paths.leaf_cert(role).display().to_string(),
        "--key".into(),
        paths.leaf_key(role).display().to_string(),
        "--ca".into(),
        paths.ca_cert().display().to_string(),
    ]
}

/// A certificate folder for `host`: the shared CA, a server certificate for
/// `<host>.local`, and a client certificate.
pub fn host_pki(ca: &CertPaths, dir: &Path, host: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(ca.ca_cert(), dir.join("ca.pem")).unwrap();
    let mine = CertPaths::new(dir);
    for (role, name, sans) in [
        (
            LeafRole::Server,
            host.to_string(),
            vec![format!("{host}.local")],
        ),
        (LeafRole::Client, format!("{host}-client"), vec![]),
    ] {
        let leaf = pingpong::tls::generate::issue_leaf(
            &store::load_ca(ca).unwrap(),
            role,
            &name,
            &sans,
            Validity::days(30),
        )
        .unwrap();
        store::write_file(&mine.leaf_cert(role), &leaf.cert, false, false).unwrap();
        store::write_file(&mine.leaf_key(role), &leaf.key, true, false).unwrap();
    }
}
