//! The README's "On a LAN: no addresses" section, run as written on a LAN the
//! test made: two server machines and a laptop on one bridge, each with its
//! own host name and `eth0`, certificates from one CA. Every `pingpong server`
//! line runs on the server machines (the first on each of them, the others,
//! one after another, on the first machine), every `pingpong client` and
//! `pingpong discover` line on the laptop, and what each line's comment
//! promises is checked: found or not over mDNS, which addresses. Anything else
//! in the section fails the test, so that the README and this test change
//! together.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::readme;
use common::routed::pki;
use common::*;
use serde_json::Value;

const SERVERS: [&str; 2] = ["web1", "web2"];

/// What `pingpong discover --json` on the laptop lists, by instance.
fn discovered(lan: &Lan, home: &std::path::Path) -> Vec<Value> {
    let out = on_host(&lan.hosts[2], "laptop", home)
        .args(["discover", "--json", "--discover-timeout", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn instance<'a>(found: &'a [Value], name: &str) -> Option<&'a Value> {
    found.iter().find(|s| s["instance"] == name)
}

#[test]
fn the_lan_section_runs_as_written() {
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    let homes = pki(dir.path(), &["web1", "web2", "laptop"]);
    let laptop = &homes[2];
    let lines = readme::commands("On a LAN: no addresses");
    assert!(lines.len() >= 4, "{lines:?}");
    // A line as written on the laptop: exit 0, its stdout.
    let on_laptop = |args: &[&str]| -> String {
        let mut process = on_host(&lan.hosts[2], "laptop", laptop);
        process.args(args);
        readme::succeeds(&format!("pingpong {}", args.join(" ")), process)
    };
    let mut running: Vec<ServerProcess> = Vec::new();
    let mut servers_started = 0;
    for command in &lines {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.get(..2) {
            Some(["pingpong", "server"]) => {
                let args = &words[2..];
                // The first line runs "on each server machine"; each later one
                // replaces what runs on the first machine (one port 4433 each).
                let machines = if servers_started == 0 { 0..2 } else { 0..1 };
                for server in running.drain(..) {
                    stop(server);
                }
                for i in machines {
                    let mut process = on_host(&lan.hosts[i], SERVERS[i], &homes[i]);
                    process.args(&words[1..]);
                    running.push(ServerProcess::spawn(process));
                }
                servers_started += 1;
                let found = discovered(&lan, laptop);
                let web1 = instance(&found, "web1");
                if args.contains(&"--no-mdns") {
                    assert!(web1.is_none(), "`{command}` was advertised: {found:?}");
                    continue;
                }
                let web1 = web1.unwrap_or_else(|| panic!("`{command}`: web1 not found: {found:?}"));
                let addresses = listed_addresses(web1);
                assert!(
                    addresses.contains(&"10.77.0.1:4433"),
                    "`{command}`: {addresses:?}"
                );
                if args.iter().any(|a| a.starts_with("0.0.0.0:")) {
                    assert!(
                        addresses.iter().all(|a| !a.starts_with('[')),
                        "`{command}` advertised IPv6: {addresses:?}"
                    );
                } else {
                    assert!(
                        addresses.iter().any(|a| a.starts_with("[fe80::")),
                        "`{command}` did not advertise its link-local IPv6 address: {addresses:?}"
                    );
                }
            }
            Some(["pingpong", "client"]) => {
                let stdout = on_laptop(&words[1..]);
                readme::assert_all_answered(command, &stdout, 10);
            }
            Some(["pingpong", "discover"]) => {
                let stdout = on_laptop(&words[1..]);
                for server in SERVERS {
                    assert!(
                        stdout.contains(server),
                        "`{command}` misses {server}: {stdout}"
                    );
                }
            }
            _ => panic!("README line `{command}`: this test does not know it"),
        }
    }
    assert!(servers_started >= 4, "{lines:?}");
    for server in running {
        stop(server);
    }
}

/// SIGTERM, and the clean exit the README promises (which frees port 4433).
fn stop(mut server: ServerProcess) {
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", server.logs());
}
