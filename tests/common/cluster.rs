//! A namespace shaped like a Kubernetes pod's for the DNS tests: the
//! cluster's search list with `ndots:5`, one CA, a server certificate for the
//! Service's pods, and server "pods" on loopback addresses.

use std::path::{Path, PathBuf};

use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

use super::{strings, Netns, ServerProcess};

/// The headless Service's DNS name in namespace `default`.
pub const SVC: &str = "pingpong.default.svc.cluster.local";

/// A pod's /etc/resolv.conf, as the kubelet writes it (the cluster DNS on
/// 127.0.0.1 here).
pub const POD_RESOLV_CONF: &str = "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n";

/// One CA, client files in `DIR/home` (the client's PINGPONG_HOME), and a
/// server certificate for `sans` in `DIR/server` (`server.pem`, `server.key`).
/// Returns (home, server folder).
pub fn pki(dir: &Path, sans: &[String]) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    let paths = CertPaths::new(&home);
    store::init_single_host(&paths, "cluster CA", 30).unwrap();
    let leaf = issue_leaf(
        &store::load_ca(&paths).unwrap(),
        LeafRole::Server,
        "pingpong",
        sans,
        Validity::days(30),
    )
    .unwrap();
    let server_dir = dir.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    store::write_file(&server_dir.join("server.pem"), &leaf.cert, false, false).unwrap();
    store::write_file(&server_dir.join("server.key"), &leaf.key, true, false).unwrap();
    (home, server_dir)
}

/// `pingpong server --no-mdns --listen LISTEN --instance INSTANCE <extra>` in
/// `netns` with the server files of [`pki`].
pub fn pod(
    netns: &Netns,
    home: &Path,
    server_dir: &Path,
    listen: &str,
    instance: &str,
    extra: &[&str],
) -> ServerProcess {
    let arg = |p: PathBuf| p.display().to_string();
    let mut args = strings(&["--no-mdns", "--listen", listen, "--instance", instance]);
    args.extend(strings(extra));
    args.extend([
        "--cert".into(),
        arg(server_dir.join("server.pem")),
        "--key".into(),
        arg(server_dir.join("server.key")),
        "--ca".into(),
        arg(CertPaths::new(home).ca_cert()),
    ]);
    ServerProcess::start_in(netns, &args, &[])
}
