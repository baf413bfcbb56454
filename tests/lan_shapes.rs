//! Discovery on the LAN shapes people really have, each host a network
//! namespace on one bridge (IPv4 and IPv6 link-local): listeners bound to one
//! family or one IP, an advertised address nothing answers on, cloned machines
//! sharing a host name, two servers on one host, an address that changes.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use pingpong::tls::{store, CertPaths};
use serde_json::Value;

/// `pingpong discover --json` from host `i`: what it found.
fn discover(lan: &Lan, i: usize, home: &Path, extra: &[&str]) -> Vec<Value> {
    let out = on_host(&lan.hosts[i], "viewer", home)
        .args([
            "discover",
            "--json",
            "--timeout",
            "2",
            "--mdns-interface",
            "eth0",
        ])
        .args(extra)
        .output()
        .unwrap();
    json_array(&out)
}

/// `client -c 1` from host `i`, `runs` times in a row: every run must get its pong.
fn ping_every_time(lan: &Lan, i: usize, home: &Path, runs: usize, what: &str) {
    for run in 0..runs {
        let out = on_host(&lan.hosts[i], "viewer", home)
            .args([
                "client",
                "-c",
                "1",
                "--mdns-interface",
                "eth0",
                "--discover-timeout",
                "3",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 received"),
            "{what}: run {run} failed: {}",
            describe(&out)
        );
    }
}

#[test]
fn every_listener_shape_is_advertised_as_it_answers_and_pinged_every_time() {
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "hostb", "viewer"]);
    let home_a = dir.path().join("hosta");
    let home_b = dir.path().join("hostb");
    let viewer = dir.path().join("viewer");
    // Host b has no IPv4 address: IPv6 link-local only.
    lan.hosts[1].ip(&["addr", "del", "10.77.0.2/24", "dev", "eth0"]);

    let shapes: [(usize, &str, &Path, &str); 3] = [
        (0, "hosta", &home_a, "0.0.0.0:0"),
        (0, "hosta", &home_a, "10.77.0.1:0"),
        (1, "hostb", &home_b, "[::]:0"),
    ];
    for (host, name, home, listen) in shapes {
        let mut srv = lan_server(&lan, host, name, home, listen, "shape");
        let found = discover(&lan, 2, &viewer, &[]);
        assert_eq!(found.len(), 1, "{listen}: {found:?}");
        let port = srv.addr.port();
        let advertised = addresses(&found[0]);
        let expected: Vec<String> = match listen {
            "0.0.0.0:0" | "10.77.0.1:0" => vec![format!("10.77.0.1:{port}")],
            _ => advertised.clone(),
        };
        assert_eq!(advertised, expected, "{listen}");
        if listen == "[::]:0" {
            assert!(
                advertised.iter().all(|a| a.starts_with("[fe80::")),
                "{advertised:?}"
            );
        }
        ping_every_time(&lan, 2, &viewer, 20, listen);
        srv.signal(libc::SIGTERM);
        srv.wait_exit(Duration::from_secs(10));
    }
}

#[test]
fn an_advertised_address_nothing_answers_on_costs_one_attempt_delay() {
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "viewer"]);
    // Two addresses on the LAN link; the one dialled first (10.77.0.9 sorts
    // before 10.77.0.50) drops everything but mDNS, like a firewalled or
    // stale address.
    lan.hosts[0].ip(&["addr", "del", "10.77.0.1/24", "dev", "eth0"]);
    lan.hosts[0].ip(&["addr", "add", "10.77.0.9/24", "dev", "eth0"]);
    lan.hosts[0].ip(&["addr", "add", "10.77.0.50/24", "dev", "eth0"]);
    let out = lan.hosts[0]
        .command("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(
                b"table inet blackhole {\n chain input {\n type filter hook input priority 0;\n ip daddr 10.77.0.9 udp dport != 5353 drop\n }\n}\n",
            )?;
            child.wait_with_output()
        })
        .expect("nft (scripts/test installs nftables)");
    assert!(out.status.success(), "nft failed: {}", describe(&out));
    let _srv = lan_server(
        &lan,
        0,
        "hosta",
        &dir.path().join("hosta"),
        "0.0.0.0:0",
        "two-addresses",
    );
    let viewer = dir.path().join("viewer");
    let found = discover(&lan, 1, &viewer, &[]);
    assert_eq!(addresses(&found[0]).len(), 2, "{found:?}");
    // With a 30 s connect timeout, every run reaches the good address: the dead
    // one costs one attempt delay (100 ms on a LAN), not the timeout. The 20 s
    // bound is far from both: only the timeout being waited out fails it.
    for run in 0..20 {
        let started = Instant::now();
        let out = on_host(&lan.hosts[1], "viewer", &viewer)
            .args([
                "client",
                "-c",
                "1",
                "--mdns-interface",
                "eth0",
                "--connect-timeout",
                "30",
            ])
            .output()
            .unwrap();
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "run {run}: {}", describe(&out));
        assert!(stdout.contains("from 10.77.0.50"), "run {run}: {stdout}");
        assert!(
            took < Duration::from_secs(20),
            "run {run} waited {took:?}: the dead address cost the connect timeout"
        );
    }
}

#[test]
fn cloned_hosts_with_one_host_name_are_both_usable_and_another_ca_is_not() {
    let lan = Lan::new(4);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["viewer"]);
    // Each clone issued its own certificate, as `certs issue server` would on
    // a machine called "clone": CN clone, SAN clone.local.
    let ca = CertPaths::new(dir.path().join("ca"));
    host_pki(&ca, &dir.path().join("clone1"), "clone");
    host_pki(&ca, &dir.path().join("clone2"), "clone");
    // A rogue with the same name, signed by another CA.
    let other = CertPaths::new(dir.path().join("other-ca"));
    store::init_ca(&other, "rogue CA", 30, false).unwrap();
    host_pki(&other, &dir.path().join("rogue"), "clone");

    let _servers: Vec<ServerProcess> = [
        ("clone1", "first"),
        ("clone2", "second"),
        ("rogue", "rogue"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (folder, instance))| {
        lan_server(
            &lan,
            i,
            "clone",
            &dir.path().join(folder),
            "0.0.0.0:0",
            instance,
        )
    })
    .collect();
    let viewer = dir.path().join("viewer");
    let deadline = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let found = discover(&lan, 3, &viewer, &["--probe"]);
        if found.len() == 3 || Instant::now() > deadline {
            break found;
        }
    };
    assert_eq!(found.len(), 3, "{found:#?}");
    let mut hosts: Vec<&str> = found.iter().map(|c| c["host"].as_str().unwrap()).collect();
    hosts.sort();
    hosts.dedup();
    assert!(
        hosts.len() >= 2,
        "mdns-sd renames a clashing host: {hosts:?}"
    );
    for candidate in &found {
        let probe = &candidate["probe"];
        if candidate["instance"] == "rogue" {
            assert_eq!(probe["ok"], false, "{candidate:#}");
            assert!(
                probe["reason"].as_str().unwrap().contains("untrusted"),
                "{candidate:#}"
            );
        } else {
            assert_eq!(probe["ok"], true, "{candidate:#}");
            assert!(
                probe["identity"].as_str().unwrap().contains("clone.local"),
                "{candidate:#}"
            );
        }
    }
    // --server-name still pins one identity: the clones carry clone.local, not
    // another name.
    let pinned = |name: &str| {
        on_host(&lan.hosts[3], "viewer", &viewer)
            .args([
                "client",
                "-c",
                "1",
                "--mdns-interface",
                "eth0",
                "--server-name",
                name,
                "--reconnect-timeout",
                "0",
            ])
            .output()
            .unwrap()
    };
    let ok = pinned("clone.local");
    assert!(ok.status.success(), "{}", describe(&ok));
    let refused = pinned("elsewhere.example");
    assert!(!refused.status.success(), "{}", describe(&refused));
}

#[test]
fn two_servers_on_one_host_one_stops_and_the_other_never_leaves_the_watch() {
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["vm", "viewer"]);
    let home = dir.path().join("vm");
    let viewer = dir.path().join("viewer");
    let (mut watcher, events) = watch(&lan, 1, &viewer);
    // One UTS namespace for both: the same host name, the same addresses.
    let mut both = lan.hosts[0].command("unshare");
    both.args(["--uts", "sh", "-c"]).arg(format!(
        "hostname vm && {bin} server --listen [::]:0 --instance stays --mdns-interface eth0 & \
         sleep 0.5; hostname vm && exec {bin} server --listen [::]:0 --instance leaves --mdns-interface eth0",
        bin = bin()
    ));
    both.env("PINGPONG_HOME", &home);
    let mut leaving = ServerProcess::spawn(both);
    let mut seen = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("both servers appear");
        seen.insert(
            event["instance"].as_str().unwrap().to_string(),
            addresses(&event),
        );
    }
    let stays = seen["stays"].clone();
    assert!(
        stays.iter().any(|a| a.starts_with("10.77.0.1:")),
        "{stays:?}"
    );
    leaving.signal(libc::SIGTERM);
    assert_eq!(leaving.wait_exit(Duration::from_secs(10)).code(), Some(0));
    // "leaves" goes (its goodbye, or at worst within 60 s, half the TTL: a
    // bound load cannot reach), and "stays" keeps every address throughout:
    // from the stop until 8 s after it and at least 5 s after the goodbye
    // was seen, when a goodbye that took the host's addresses would show.
    let stopped = Instant::now();
    let mut until = stopped + Duration::from_secs(60);
    let mut left = false;
    while let Ok(event) = events.recv_timeout(until.saturating_duration_since(Instant::now())) {
        match event["instance"].as_str().unwrap() {
            "leaves" if event["event"] == "removed" && !left => {
                left = true;
                until =
                    (stopped + Duration::from_secs(8)).max(Instant::now() + Duration::from_secs(5));
            }
            "leaves" => {}
            _ => {
                assert_ne!(event["event"], "removed", "the survivor left: {event}");
                assert_eq!(addresses(&event), stays, "the survivor changed: {event}");
            }
        }
    }
    assert!(left, "the stopped server never left the watch");
    send_signal(&watcher, libc::SIGINT);
    watcher.wait().unwrap();
}

#[test]
fn a_replaced_address_is_advertised_and_the_old_one_withdrawn() {
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "viewer"]);
    let viewer = dir.path().join("viewer");
    let (mut watcher, events) = watch(&lan, 1, &viewer);
    let srv = lan_server(
        &lan,
        0,
        "hosta",
        &dir.path().join("hosta"),
        "0.0.0.0:0",
        "moves",
    );
    let port = srv.addr.port();
    let first = events.recv_timeout(Duration::from_secs(10)).expect("added");
    assert_eq!(addresses(&first), [format!("10.77.0.1:{port}")]);
    // A new lease: the old address goes, the new one comes. (Deleting a
    // primary address also deletes the secondaries of its subnet, so the new
    // one is added after.)
    let changed = Instant::now();
    lan.hosts[0].ip(&["addr", "del", "10.77.0.1/24", "dev", "eth0"]);
    lan.hosts[0].ip(&["addr", "add", "10.77.0.50/24", "dev", "eth0"]);
    let wanted = [format!("10.77.0.50:{port}")];
    loop {
        let event = events
            .recv_timeout(Duration::from_secs(60).saturating_sub(changed.elapsed()))
            .unwrap_or_else(|_| {
                panic!(
                    "the new address was not advertised with the old one withdrawn; server log:\n{}",
                    srv.logs()
                )
            });
        println!("{:?} {event}", changed.elapsed());
        if addresses(&event) == wanted {
            break;
        }
    }
    println!(
        "address change seen by the watch after {:?}",
        changed.elapsed()
    );
    let out = on_host(&lan.hosts[1], "viewer", &viewer)
        .args(["client", "-4", "-c", "1", "--mdns-interface", "eth0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("from 10.77.0.50"));
    send_signal(&watcher, libc::SIGINT);
    watcher.wait().unwrap();
}

/// A machine whose host name is a full name (`web1.example.com`, as many
/// servers are set up) is `web1.local` on the link and its server's default
/// instance is `web1`, as avahi names it: a name without a dot, which every
/// responder answers for (docs/upstream/mdns-sd-conflict-rename.md). Its
/// certificate, issued on that machine, carries `web1.local`.
#[test]
fn a_machine_named_by_a_full_name_is_its_first_label_on_the_link() {
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["viewer"]);
    let ca = CertPaths::new(dir.path().join("ca"));
    host_pki(&ca, &dir.path().join("web1"), "web1");
    let mut command = on_host(&lan.hosts[0], "web1.example.com", &dir.path().join("web1"));
    command.args([
        "server",
        "--listen",
        "0.0.0.0:0",
        "--mdns-interface",
        "eth0",
    ]);
    let _server = ServerProcess::spawn(command);
    let viewer = dir.path().join("viewer");
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let found = discover(&lan, 1, &viewer, &["--probe"]);
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
    };
    assert_eq!(found.len(), 1, "{found:#?}");
    let web1 = &found[0];
    assert_eq!(web1["instance"], "web1", "{web1:#}");
    assert_eq!(web1["host"], "web1.local", "{web1:#}");
    assert_eq!(web1["probe"]["ok"], true, "{web1:#}");
    ping_every_time(&lan, 1, &viewer, 3, "web1.example.com");
}
