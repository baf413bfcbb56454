//! Clients prefer the less loaded of otherwise equal servers. Each server
//! publishes its sessions in use as TXT `load` (per mille of
//! `--max-sessions`; a new value only in another ranking bucket, at most every
//! 5 s), the Rust and the Python server alike. Here they register in BIND
//! across a router (`--register-dns`), so the new value reaches the zone by
//! RFC 2136 update, and clients on the other subnet find all three in one
//! DNS-SD answer and rank them by it.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::named::{Named, NAMED_A, NAMED_B, ZONE};
use common::routed::{pki, registered_python_server, registered_server, Routed};
use common::*;
use serde_json::Value;

/// `pingpong ARGS` on the laptop (subnet B).
fn laptop(lab: &Routed, home: &Path, args: &[&str]) -> Command {
    let mut command = on_host(&lab.b.hosts[0], "laptop", home);
    command.args(args);
    command
}

/// Instance → advertised load, as `pingpong discover --dns-sd` lists them.
fn loads(lab: &Routed, home: &Path) -> BTreeMap<String, Option<u64>> {
    let out = laptop(lab, home, &["discover", "--dns-sd", ZONE, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["instance"].as_str().unwrap().to_string(),
                c["load"].as_u64(),
            )
        })
        .collect()
}

/// Polls `discover` until it lists exactly `wanted`.
fn wait_for_loads(lab: &Routed, home: &Path, wanted: &BTreeMap<String, Option<u64>>) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let seen = loads(lab, home);
        if &seen == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "discover never showed the loads {wanted:?}; last {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn new_clients_go_to_the_less_loaded_server() {
    let lab = Routed::new(3, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["web1", "web2", "web3", "laptop"]);
    let limit = ["--max-sessions", "10"];
    let servers = [
        registered_server(
            &lab,
            0,
            "web1",
            &homes[0],
            &named.key,
            &[&["--instance", "rust-busy"][..], &limit].concat(),
        ),
        registered_python_server(
            &lab,
            1,
            "web2",
            &homes[1],
            &named.key,
            &[&["--instance", "python-busy"][..], &limit].concat(),
        ),
        registered_server(
            &lab,
            2,
            "web3",
            &homes[2],
            &named.key,
            &[&["--instance", "idle"][..], &limit].concat(),
        ),
    ];
    let load = |busy: u64| -> BTreeMap<String, Option<u64>> {
        [
            ("idle".to_string(), Some(0)),
            ("python-busy".to_string(), Some(busy)),
            ("rust-busy".to_string(), Some(busy)),
        ]
        .into()
    };
    wait_for_loads(&lab, &homes[3], &load(0));

    // Six sessions on each busy server: load 600.
    let mut holders: Vec<Child> = ["web1", "web2"]
        .iter()
        .flat_map(|host| (0..6).map(move |_| format!("https://{host}.{ZONE}:4433/pingpong")))
        .map(|url| {
            laptop(&lab, &homes[3], &["client", &url, "-c", "0", "-i", "0.5"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for_loads(&lab, &homes[3], &load(600));

    // Fresh clients, knowing only what DNS-SD says: all pick the idle server
    // (by chance alone, 10 of 10 would happen once in 59,000).
    for _ in 0..10 {
        let out = laptop(
            &lab,
            &homes[3],
            &["client", "--dns-sd", ZONE, "-c", "1", "--json"],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let header: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap())
                .unwrap();
        assert_eq!(header["instance"], "idle", "{header}");
    }

    // The sessions leave: the busy servers say so.
    for holder in &mut holders {
        send_signal(holder, libc::SIGINT);
        holder.wait().unwrap();
    }
    wait_for_loads(&lab, &homes[3], &load(0));
    drop(servers);
}
