//! A LAN in network namespaces: three hosts on a bridge, `pingpong server` on
//! hosts 0 and 1 (each with its own host name and certificate), the client on
//! host 2, discovery over mDNS.

use super::*;

/// Three hosts on a bridge: servers on hosts 0 and 1, the client's home for host 2.
pub struct LanSetup {
    pub lan: Lan,
    _dir: tempfile::TempDir,
    pub client_home: std::path::PathBuf,
    pub servers: Vec<ServerProcess>,
}

pub fn lan_setup() -> LanSetup {
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    let ca = pingpong::tls::CertPaths::new(dir.path().join("ca"));
    pingpong::tls::store::init_ca(&ca, "lan CA", 30, false).unwrap();
    let names = ["hosta", "hostb", "hostc"];
    for name in names {
        host_pki(&ca, &dir.path().join(name), name);
    }
    let servers = names[..2]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut command = on_host(&lan.hosts[i], name, &dir.path().join(name));
            command.args([
                "server",
                "--listen",
                "[::]:0",
                "--instance",
                name,
                "--mdns-interface",
                "eth0",
            ]);
            ServerProcess::spawn(command)
        })
        .collect();
    let client_home = dir.path().join("hostc");
    LanSetup {
        lan,
        _dir: dir,
        client_home,
        servers,
    }
}

/// `pingpong client -4 -c COUNT --json <extra>` (`-i 0.01` unless `extra` has
/// an `-i`) on host 2, finding
/// the servers over mDNS on eth0.
pub fn lan_client(setup: &LanSetup, count: u64, extra: &[&str]) -> JsonClient {
    let mut command = on_host(&setup.lan.hosts[2], "hostc", &setup.client_home);
    command.args([
        "client",
        "-4",
        "-c",
        &count.to_string(),
        "--json",
        "--mdns-interface",
        "eth0",
        "--discover-timeout",
        "5",
    ]);
    if !extra.contains(&"-i") {
        command.args(["-i", "0.01"]);
    }
    command.args(extra);
    JsonClient::spawn(command)
}
