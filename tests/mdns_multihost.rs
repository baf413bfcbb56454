//! Three "hosts" (network namespaces) on one LAN (a bridge in a fourth): servers
//! on two, a client on the third. Discovery and ping-pong cross the bridge over
//! IPv4 and over IPv6 link-local addresses.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use common::*;
use pingpong::tls::{store, CertPaths};
use serde_json::Value;

#[test]
fn discovery_and_ping_cross_a_bridge_over_ipv4_and_ipv6_link_local() {
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    let ca = CertPaths::new(dir.path().join("ca"));
    store::init_ca(&ca, "lan CA", 30, false).unwrap();
    let names = ["hosta", "hostb", "hostc"];
    for name in names {
        host_pki(&ca, &dir.path().join(name), name);
    }

    let mut servers = Vec::new();
    for (i, name) in names[..2].iter().enumerate() {
        let mut command = on_host(&lan.hosts[i], name, &dir.path().join(name));
        command.args([
            "server",
            "--listen",
            "[::]:0",
            "--instance",
            &format!("srv-{name}"),
            "--mdns-interface",
            "eth0",
        ]);
        servers.push(ServerProcess::spawn(command));
    }

    // The third host sees both servers, with IPv4 and IPv6 link-local addresses.
    let client_home = dir.path().join("hostc");
    let out = on_host(&lan.hosts[2], "hostc", &client_home)
        .args([
            "discover",
            "--json",
            "--timeout",
            "3",
            "--mdns-interface",
            "eth0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let found: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    for (i, name) in names[..2].iter().enumerate() {
        let server = found
            .iter()
            .find(|c| c["instance"] == format!("srv-{name}"))
            .unwrap_or_else(|| panic!("srv-{name} not discovered: {found:?}"));
        assert_eq!(server["host"], format!("{name}.local"));
        let addresses = listed_addresses(server);
        assert!(
            addresses
                .iter()
                .any(|a| a.starts_with(&format!("10.77.0.{}:", i + 1))),
            "{addresses:?}"
        );
        assert!(
            addresses.iter().any(|a| a.starts_with("[fe80::")),
            "{addresses:?}"
        );
    }

    // Ping-pong over each family, with nothing but the command name and -4/-6.
    for family in ["-4", "-6"] {
        let out = on_host(&lan.hosts[2], "hostc", &client_home)
            .args([
                "client",
                family,
                "-c",
                "3",
                "-i",
                "0.01",
                "--mdns-interface",
                "eth0",
                "--discover-timeout",
                "3",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{family}: {}", describe(&out));
        assert!(stdout.contains("via mdns: server \"srv-host"), "{stdout}");
        assert!(
            stdout.contains("3 pings transmitted, 3 received, 0% loss"),
            "{stdout}"
        );
        let remote = stdout.lines().nth(1).unwrap();
        match family {
            "-4" => assert!(remote.contains("from 10.77.0."), "{remote}"),
            _ => assert!(remote.contains("from [fe80::"), "{remote}"),
        }
    }
    drop(servers);
}
