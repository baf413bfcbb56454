//! Zero configuration across subnets (issue 21): a client with no flag
//! learns where to browse from the network (RFC 6763 §11) — the
//! `b._dns-sd._udp` / `lb._dns-sd._udp` PTR records of its search domains and
//! of its subnet's reverse-mapping domain — and finds the servers registered
//! there, across a router that mDNS does not cross. Real BIND 9; each
//! client host has its own resolv.conf.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::named::{nsupdate, Named, NAMED_A, NAMED_B, ZONE};
use common::routed::{pki, registered_python_server, registered_server, Routed};
use common::*;
use pingpong::tls::{CertPaths, LeafRole};

#[test]
fn a_client_with_no_flags_learns_the_browse_domain_and_pings_across_the_router() {
    let lab = Routed::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    // The clients' subnet 10.82.0.0/24: its reverse zone, and the name RFC
    // 6763 §11 asks in it (the subnet's address, host part zeroed).
    let reverse = "0.82.10.in-addr.arpa";
    let subnet = "0.0.82.10.in-addr.arpa";
    let named = Named::start_with_zones(
        &|p| lab.on_router(p),
        dir.path(),
        &[NAMED_A, NAMED_B],
        &[reverse],
        &[],
    );
    let homes = pki(dir.path(), &["web1", "web2", "laptop", "desk"]);
    let rust = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &["--instance", "Rust Server"],
    );
    let python = registered_python_server(
        &lab,
        1,
        "web2",
        &homes[1],
        &named.key,
        &["--instance", "Python Server"],
    );
    rust.wait_for_registered(Duration::from_secs(20));
    python.wait_for_registered(Duration::from_secs(20));

    let laptop = |args: &[&str]| {
        on_host(&lab.b.hosts[0], "laptop", &homes[2])
            .args(args)
            .output()
            .unwrap()
    };
    // No browse records yet: nothing is found across the router.
    let out = laptop(&["discover", "--json"]);
    assert_eq!(
        json_array(&out),
        Vec::<serde_json::Value>::new(),
        "{}",
        describe(&out)
    );

    // The network announces its browse domain in its search domain.
    nsupdate(&|p| lab.on_router(p), &named.key, &format!("update add b._dns-sd._udp.{ZONE}. 1 PTR {ZONE}.\nupdate add lb._dns-sd._udp.{ZONE}. 1 PTR {ZONE}."));
    let out = laptop(&["discover", "--json"]);
    let found = json_array(&out);
    let mut instances: Vec<&str> = found
        .iter()
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    instances.sort();
    assert_eq!(
        instances,
        ["Python Server", "Rust Server"],
        "{}",
        describe(&out)
    );
    for server in &found {
        assert_eq!(server["source"], "dns-sd", "{server}");
        assert_eq!(server["domain"], ZONE, "{server}");
        let learnt = server["learnt"].as_str().unwrap();
        assert!(
            learnt.ends_with("_dns-sd._udp.lab.test (the search list)"),
            "{learnt}"
        );
    }
    let text = String::from_utf8_lossy(&laptop(&["discover"]).stdout).into_owned();
    assert!(text.contains("dns-sd lab.test"), "{text}");

    // The client with no flag at all pings them.
    let out = laptop(&["client", "-c", "3", "-i", "0.01"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("via dns-sd lab.test") && stdout.contains("3 received"),
        "{stdout}"
    );

    // Turned off: mDNS alone, which does not cross the router.
    let out = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .env("PINGPONG_NO_BROWSE_DOMAINS", "1")
        .args(["discover", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        json_array(&out),
        Vec::<serde_json::Value>::new(),
        "{}",
        describe(&out)
    );

    // A host without the search domain learns it from its subnet's
    // reverse-mapping domain.
    lab.b.hosts[1].set_resolv_conf(&format!("nameserver {NAMED_B}\n"));
    let desk = |args: &[&str]| {
        on_host(&lab.b.hosts[1], "desk", &homes[3])
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        json_array(&desk(&["discover", "--json"])),
        Vec::<serde_json::Value>::new()
    );
    nsupdate(
        &|p| lab.on_router(p),
        &named.key,
        &format!("zone {reverse}\nupdate add b._dns-sd._udp.{subnet}. 1 PTR {ZONE}."),
    );
    let out = desk(&["discover", "--json"]);
    let found = json_array(&out);
    assert_eq!(found.len(), 2, "{}", describe(&out));
    assert_eq!(
        found[0]["learnt"],
        format!("b._dns-sd._udp.{subnet} (the subnet 10.82.0.0/24)")
    );

    // The records withdrawn (the laptop's subnet announced it too): a
    // watching client sees the servers go within the records' TTL.
    let mut watch = JsonClient::spawn({
        let mut command = on_host(&lab.b.hosts[0], "laptop", &homes[2]);
        command.args(["discover", "--watch", "--json"]);
        command
    });
    for _ in 0..2 {
        assert_eq!(watch.until("added")["source"], "dns-sd");
    }
    let router = |p: &str| lab.on_router(p);
    let search_records = format!(
        "update delete b._dns-sd._udp.{ZONE}. PTR\nupdate delete lb._dns-sd._udp.{ZONE}. PTR"
    );
    nsupdate(&router, &named.key, &search_records);
    nsupdate(
        &router,
        &named.key,
        &format!("zone {reverse}\nupdate delete b._dns-sd._udp.{subnet}. PTR"),
    );
    for _ in 0..2 {
        assert_eq!(watch.until("removed")["source"], "dns-sd");
    }
    let _ = watch.child.kill();
    let _ = watch.child.wait();
}

/// RFC 6763 §4 instance names — spaces, dots, underscores, a backslash,
/// UTF-8 up to 63 bytes — registered by both servers in DNS and advertised
/// over mDNS: each is found twice (mDNS and DNS-SD), shown exactly, and
/// answers a probe (mTLS + Hello/Welcome). The Rust server's mDNS library
/// (mdns-sd 0.21.7) cannot answer for a name with a dot or a backslash: such
/// a name is refused over mDNS with the reason, and works over DNS-SD with
/// `--no-mdns` (docs/upstream/mdns-sd-conflict-rename.md). A 64-byte name is
/// refused at start.
#[test]
fn every_instance_name_rfc_6763_allows_works_over_dns_sd_and_mdns() {
    let long = format!("{}x", "é".repeat(31));
    assert_eq!(long.len(), 63);
    let names = [
        "Living Room",
        "Café Nord",
        "v1.2_beta",
        r"a\b",
        long.as_str(),
    ];
    let lab = Routed::new(3, 0);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A]);
    let homes = pki(dir.path(), &["web1", "web2", "desk"]);
    // Any free port, the instance name, and mDNS on the LAN only.
    fn extra(name: &str) -> [&str; 6] {
        [
            "--listen",
            "0.0.0.0:0",
            "--instance",
            name,
            "--mdns-interface",
            "eth0",
        ]
    }
    let python_server =
        |name: &str| registered_python_server(&lab, 1, "web2", &homes[1], &named.key, &extra(name));
    let dotted = |name: &str| name.contains(['.', '\\']);
    let rust_server = |name: &str| {
        let mut command = on_host(&lab.a.hosts[0], "web1", &homes[0]);
        command
            .args(["server", "--register-dns", ZONE, "--tsig-key"])
            .arg(&named.key)
            .args(extra(name));
        if dotted(name) {
            command.arg("--no-mdns");
        }
        ServerProcess::spawn(command)
    };
    for name in names.iter().filter(|name| dotted(name)) {
        let out = on_host(&lab.a.hosts[0], "web1", &homes[0])
            .args(["server"])
            .args(extra(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("has a dot or a backslash") && stderr.contains("--no-mdns"),
            "{name:?}: {stderr}"
        );
    }
    for (implementation, start) in [
        ("rust", &rust_server as &dyn Fn(&str) -> ServerProcess),
        ("python", &python_server),
    ] {
        let mut servers: Vec<ServerProcess> = names.iter().map(|name| start(name)).collect();
        for server in &servers {
            server.wait_for_registered(Duration::from_secs(20));
        }
        let out = on_host(&lab.a.hosts[2], "desk", &homes[2])
            .args([
                "discover",
                "--dns-sd",
                ZONE,
                "--mdns",
                "--mdns-interface",
                "eth0",
                "--probe",
                "--json",
            ])
            .output()
            .unwrap();
        let found = json_array(&out);
        let mut expected = 0;
        for name in names {
            let mut sources: Vec<&str> = found
                .iter()
                .filter(|s| s["instance"] == name)
                .map(|s| s["source"].as_str().unwrap())
                .collect();
            sources.sort();
            let wanted: &[&str] = if implementation == "rust" && dotted(name) {
                &["dns-sd"]
            } else {
                &["dns-sd", "mdns"]
            };
            expected += wanted.len();
            assert_eq!(
                sources,
                wanted,
                "{implementation} {name:?}: {}",
                describe(&out)
            );
        }
        assert_eq!(
            found.len(),
            expected,
            "{implementation}: {}",
            describe(&out)
        );
        for server in &found {
            assert_eq!(server["probe"]["ok"], true, "{implementation}: {server}");
        }
        // Gone from DNS and mDNS before the next implementation takes the names.
        for server in &mut servers {
            server.signal(libc::SIGTERM);
        }
        for server in &mut servers {
            server.wait_exit(Duration::from_secs(15));
            assert!(
                server.logs().contains("removed from DNS"),
                "{}",
                server.logs()
            );
        }
    }

    let too_long = format!("{long}y");
    let out = on_host(&lab.a.hosts[0], "web1", &homes[0])
        .args(["server", "--listen", "0.0.0.0:0", "--instance", &too_long])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("must be 1 to 63 bytes"), "{stderr}");
    let out = on_host_running(&lab.a.hosts[1], "web2", &homes[1], &python_server_bin())
        .args(["--listen", "0.0.0.0:0", "--instance", &too_long])
        .args(tls_args(&CertPaths::new(&homes[1]), LeafRole::Server))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("63 bytes"), "{stderr}");
}
