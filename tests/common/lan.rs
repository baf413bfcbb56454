//! A LAN of namespaces on one bridge, and commands run on one of its hosts
//! under its own host name.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use super::*;

/// A bridge namespace and one namespace per host, each with `eth0` on the bridge.
pub struct Lan {
    pub bridge: Netns,
    pub hosts: Vec<Netns>,
    ports: Vec<String>,
}

impl Lan {
    /// `count` hosts `10.77.0.1..` on one bridge with multicast snooping off.
    pub fn new(count: usize) -> Self {
        Self::on_subnet(count, "10.77.0")
    }

    /// `count` hosts `PREFIX.1..` (a /24) on one bridge.
    pub fn on_subnet(count: usize, prefix: &str) -> Self {
        let bridge = Netns::new();
        bridge.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        bridge.ip(&["link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for i in 0..count {
            let host = Netns::new();
            // Link-local IPv6 addresses usable at once, without duplicate detection.
            host.sysctl("net.ipv6.conf.all.accept_dad=0");
            host.sysctl("net.ipv6.conf.default.accept_dad=0");
            let port = format!("h{i}-{}", std::process::id() % 10_000);
            bridge.ip(&[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &host.name,
            ]);
            bridge.ip(&["link", "set", &port, "master", "br0", "up"]);
            host.ip(&[
                "addr",
                "add",
                &format!("{prefix}.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
            host.ip(&["link", "set", "eth0", "multicast", "on", "up"]);
            hosts.push(host);
            ports.push(port);
        }
        Self {
            bridge,
            hosts,
            ports,
        }
    }
}

/// `pingpong <args>` on `netns` with host name `host` (its own UTS namespace).
pub fn on_host(netns: &Netns, host: &str, home: &Path) -> Command {
    on_host_running(netns, host, home, bin())
}

/// `program <args>` on `netns` with host name `host` (its own UTS namespace).
pub fn on_host_running(netns: &Netns, host: &str, home: &Path, program: &str) -> Command {
    let mut command = netns.command("unshare");
    command
        .args([
            "--uts",
            "sh",
            "-c",
            &format!("hostname {host} && exec \"$0\" \"$@\""),
            program,
        ])
        .env("PINGPONG_HOME", home);
    command
}

impl Lan {
    /// Takes host `i`'s link to the bridge down or up.
    pub fn set_link(&self, i: usize, up: bool) {
        self.bridge.ip(&[
            "link",
            "set",
            &self.ports[i],
            if up { "up" } else { "down" },
        ]);
    }

    /// Drops `percent` % of the frames the bridge forwards (nftables, bridge
    /// family, forward hook: the kernel here has no netem).
    pub fn set_loss(&self, percent: u32) {
        self.nft(&format!(
            "table bridge lossy {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n    numgen random mod 100 < {percent} drop\n  }}\n}}\n"
        ));
    }

    /// A one-way partition: every IPv4 frame host `i` sends is dropped on the
    /// bridge; what it receives still arrives.
    pub fn drop_from(&self, i: usize) {
        self.nft(&format!(
            "table bridge partition {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n    ip saddr 10.77.0.{} drop\n  }}\n}}\n",
            i + 1
        ));
    }

    /// Loads nftables `rules` into the bridge's namespace.
    pub fn nft(&self, rules: &str) {
        let mut child = self
            .bridge
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft is not installed: `apt-get install nftables` (scripts/test installs it)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), rules.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "nft rejected {rules}");
    }
}

/// `discover --watch --json` on host `i` (as `viewer`, on its `eth0`), its
/// events on a channel as they come.
pub fn watch(lan: &Lan, i: usize, home: &Path) -> (Child, mpsc::Receiver<Value>) {
    watch_as(lan, i, "viewer", home, &[])
}

/// `discover --watch --json <extra>` on host `i` as host name `host`, on its
/// `eth0`: its events on a channel as they come.
pub fn watch_as(
    lan: &Lan,
    i: usize,
    host: &str,
    home: &Path,
    extra: &[&str],
) -> (Child, mpsc::Receiver<Value>) {
    let mut child = on_host(&lan.hosts[i], host, home)
        .args(["discover", "--watch", "--json", "--mdns-interface", "eth0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// `pingpong server` on host `i` (host name `name`), on `eth0` only.
pub fn lan_server(
    lan: &Lan,
    i: usize,
    name: &str,
    home: &Path,
    listen: &str,
    instance: &str,
) -> ServerProcess {
    let mut command = on_host(&lan.hosts[i], name, home);
    command.args([
        "server",
        "--listen",
        listen,
        "--instance",
        instance,
        "--mdns-interface",
        "eth0",
    ]);
    ServerProcess::spawn(command)
}

/// A shared CA and, per host name, a folder as `certs issue` would leave it.
pub fn lan_pki(dir: &Path, hosts: &[&str]) -> pingpong::tls::CertPaths {
    let ca = pingpong::tls::CertPaths::new(dir.join("ca"));
    pingpong::tls::store::init_ca(&ca, "lan CA", 30, false).unwrap();
    for host in hosts {
        host_pki(&ca, &dir.join(host), host);
    }
    ca
}

/// The addresses of a discovered candidate (a `discover --json` line), sorted;
/// none for an event that carries none.
pub fn addresses(candidate: &Value) -> Vec<String> {
    let mut list: Vec<String> = candidate["addresses"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    list.sort();
    list
}
