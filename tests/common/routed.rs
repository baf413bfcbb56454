//! Two subnets joined by a router, named on the router: the shape of an
//! office or lab where mDNS stops at the router and servers register
//! themselves in DNS.

use std::path::{Path, PathBuf};

use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

use super::named::{NAMED_A, NAMED_B, ZONE};
use super::{on_host, Lan, Netns, ServerProcess};

/// Subnet A (`10.81.0.0/24`, servers) and subnet B (`10.82.0.0/24`,
/// clients), each a bridge, routed by `router` (no multicast routing: mDNS
/// does not cross). Every host's resolver is named on the router, search
/// domain [`ZONE`].
pub struct Routed {
    pub router: Netns,
    pub a: Lan,
    pub b: Lan,
}

impl Routed {
    /// `servers` hosts on A (`10.81.0.1..`), `clients` hosts on B.
    pub fn new(servers: usize, clients: usize) -> Self {
        let a = Lan::on_subnet(servers, "10.81.0");
        let b = Lan::on_subnet(clients, "10.82.0");
        let router = Netns::new();
        router.sysctl("net.ipv4.ip_forward=1");
        for (lan, link, address) in [(&a, "up-a", NAMED_A), (&b, "up-b", NAMED_B)] {
            lan.bridge.ip(&[
                "link",
                "add",
                link,
                "type",
                "veth",
                "peer",
                "name",
                link,
                "netns",
                &router.name,
            ]);
            lan.bridge.ip(&["link", "set", link, "master", "br0", "up"]);
            router.ip(&["addr", "add", &format!("{address}/24"), "dev", link]);
            router.ip(&["link", "set", link, "up"]);
            for host in &lan.hosts {
                host.ip(&["route", "add", "default", "via", address]);
                host.set_resolv_conf(&format!("nameserver {address}\nsearch {ZONE}\n"));
            }
        }
        Self { router, a, b }
    }

    /// Starts `program` on the router.
    pub fn on_router(&self, program: &str) -> std::process::Command {
        self.router.command(program)
    }
}

/// One CA; for each host a folder with the CA, a server certificate for
/// `<host>.lab.test` (and `<host>.local`) and a client certificate.
pub fn pki(dir: &Path, hosts: &[&str]) -> Vec<PathBuf> {
    let named: Vec<(&str, Vec<String>)> = hosts
        .iter()
        .map(|host| {
            (
                *host,
                vec![format!("{host}.local"), format!("{host}.{ZONE}")],
            )
        })
        .collect();
    pki_named(dir, &named)
}

/// One CA in `dir/ca`; for each host a folder `dir/<host>` with the CA, a
/// server certificate named `<host>` carrying the given names, and a client
/// certificate `<host>-client`.
pub fn pki_named(dir: &Path, hosts: &[(&str, Vec<String>)]) -> Vec<PathBuf> {
    let ca = CertPaths::new(dir.join("ca"));
    store::init_ca(&ca, "test CA", 30, false).unwrap();
    let authority = store::load_ca(&ca).unwrap();
    hosts
        .iter()
        .map(|(host, server_names)| {
            let home = dir.join(host);
            std::fs::create_dir_all(&home).unwrap();
            std::fs::copy(ca.ca_cert(), home.join("ca.pem")).unwrap();
            let mine = CertPaths::new(&home);
            for (role, name, sans) in [
                (LeafRole::Server, host.to_string(), server_names.clone()),
                (LeafRole::Client, format!("{host}-client"), vec![]),
            ] {
                let leaf = issue_leaf(&authority, role, &name, &sans, Validity::days(30)).unwrap();
                store::write_file(&mine.leaf_cert(role), &leaf.cert, false, false).unwrap();
                store::write_file(&mine.leaf_key(role), &leaf.key, true, false).unwrap();
            }
            home
        })
        .collect()
}

/// `pingpong server --register-dns lab.test --tsig-key KEY <extra>` on host
/// `i` of subnet A, named `host`.
pub fn registered_server(
    lab: &Routed,
    i: usize,
    host: &str,
    home: &Path,
    key: &Path,
    extra: &[&str],
) -> ServerProcess {
    server_in_zone(lab, i, host, home, key, ZONE, extra)
}

/// The same, registering in `zone`.
pub fn server_in_zone(
    lab: &Routed,
    i: usize,
    host: &str,
    home: &Path,
    key: &Path,
    zone: &str,
    extra: &[&str],
) -> ServerProcess {
    let mut command = on_host(&lab.a.hosts[i], host, home);
    command
        .args(["server", "--listen", "0.0.0.0:4433", "--register-dns", zone])
        .arg("--tsig-key")
        .arg(key)
        .args(extra);
    ServerProcess::spawn(command)
}

/// The Python server (`pingpong-server --listen 0.0.0.0:4433 --register-dns
/// lab.test --tsig-key KEY <extra>`, its server files from `home`) on host
/// `i` of subnet A, named `host`; a `--listen` in `extra` wins.
pub fn registered_python_server(
    lab: &Routed,
    i: usize,
    host: &str,
    home: &Path,
    key: &Path,
    extra: &[&str],
) -> ServerProcess {
    let mut command =
        super::on_host_running(&lab.a.hosts[i], host, home, &super::python_server_bin());
    command
        .args([
            "--listen",
            "0.0.0.0:4433",
            "--register-dns",
            ZONE,
            "--tsig-key",
        ])
        .arg(key)
        .args(super::tls_args(&CertPaths::new(home), LeafRole::Server))
        .args(extra);
    ServerProcess::spawn(command)
}
