//! pingpong's mDNS as third-party peers see it, and a busy LAN: avahi and
//! python-zeroconf see exactly the addresses a server answers on, and 200
//! services published by avahi are all listed by `discover` within its window,
//! as python-zeroconf lists them in the same run. Each test runs in its own
//! network namespace with a veth "LAN" (`pp0`, 10.99.0.1/24).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::peers::{interop_script, python, Avahi};
use common::*;
use serde_json::Value;

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let paths = pingpong::tls::CertPaths::new(dir.path());
    pingpong::tls::store::init_single_host(&paths, "third-party CA", 30).unwrap();
    dir
}

/// python-zeroconf's browser for `seconds`: the services it resolved.
fn zeroconf_browse(netns: &Netns, seconds: &str) -> Child {
    netns
        .command(python().to_str().unwrap())
        .args([
            interop_script("zeroconf_browse.py").as_str(),
            "_pingpong._udp.local.",
            seconds,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn zeroconf_results(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", describe(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The addresses avahi resolves for `instance` (`avahi-browse -rpt`), asked
/// again until there are `want` of them (or 10 s have passed).
fn avahi_addresses(avahi: &Avahi, netns: &Netns, instance: &str, want: usize) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = avahi
            .command(netns, "avahi-browse")
            .args(["-rpt", "_pingpong._udp"])
            .output()
            .unwrap();
        let found: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("=;") && l.contains(&format!(";{instance};")))
            .map(|l| l.split(';').nth(7).unwrap().to_string())
            .collect();
        if found.len() >= want || Instant::now() > deadline {
            return found;
        }
    }
}

#[test]
fn avahi_and_python_zeroconf_see_exactly_the_addresses_the_server_answers_on() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let home = home();
    for (listen, host) in [
        ("0.0.0.0:0", "shape-v4"),
        ("10.99.0.1:0", "shape-one"),
        ("[::]:0", "shape-dual"),
    ] {
        let instance = host;
        // Its own host name: no address record of another shape can mix in.
        let mut command = on_host(&netns, host, home.path());
        command.args(["server", "--listen", listen, "--instance", instance]);
        let server = ServerProcess::spawn(command);
        let zeroconf = zeroconf_browse(&netns, "3");
        let want = if listen == "[::]:0" { 2 } else { 1 };
        let seen_by_avahi = avahi_addresses(&avahi, &netns, instance, want);
        let seen = zeroconf_results(&zeroconf.wait_with_output().unwrap());
        let mine = seen
            .iter()
            .find(|s| s["name"] == format!("{instance}._pingpong._udp.local."))
            .unwrap_or_else(|| panic!("{listen}: zeroconf did not resolve {instance}: {seen:?}"));
        let seen_by_zeroconf: BTreeSet<String> = mine["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        // python-zeroconf listens on every interface, loopback included, and
        // keeps the first resolution: what it saw must be among the
        // addresses the server answers on, and of its families.
        let allowed = |a: &String| match listen {
            "0.0.0.0:0" => a == "10.99.0.1" || a == "127.0.0.1",
            "10.99.0.1:0" => a == "10.99.0.1",
            _ => a == "10.99.0.1" || a == "127.0.0.1" || a == "::1" || a.starts_with("fe80::"),
        };
        assert!(
            !seen_by_zeroconf.is_empty() && seen_by_zeroconf.iter().all(allowed),
            "{listen}: python-zeroconf saw {seen_by_zeroconf:?}"
        );
        // avahi listens on pp0 only, and resolves every address there.
        let on_pp0: BTreeSet<String> = match listen {
            "[::]:0" => {
                assert_eq!(seen_by_avahi.len(), 2, "{seen_by_avahi:?}");
                assert!(
                    seen_by_avahi.iter().any(|a| a.starts_with("fe80::")),
                    "{seen_by_avahi:?}"
                );
                seen_by_avahi.clone()
            }
            _ => BTreeSet::from(["10.99.0.1".to_string()]),
        };
        assert_eq!(
            seen_by_avahi, on_pp0,
            "{listen}: avahi saw {seen_by_avahi:?}"
        );
        assert!(seen_by_avahi.contains("10.99.0.1"), "{seen_by_avahi:?}");
        drop(server);
    }
}

/// Starts `avahi-publish -s NAME _pingpong._udp PORT TXT...`.
fn publish(avahi: &Avahi, netns: &Netns, name: &str, port: u16, txt: &[&str]) -> Child {
    avahi
        .command(netns, "avahi-publish")
        .args(["-s", name, "_pingpong._udp", &port.to_string()])
        .args(txt)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until avahi has established `child`'s service.
fn established(name: &str, child: &mut Child) {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("avahi-publish exited").unwrap();
    assert!(first.contains("Established under name"), "{name}: {first}");
    std::thread::spawn(move || for _ in lines {});
}

#[test]
fn two_hundred_services_on_the_link_are_all_listed_by_discover() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let home = home();
    let good = 200;
    // Published all at once (avahi probes them in parallel), then awaited.
    let long_path = format!("path=/{}", "p".repeat(100));
    let mut publishers: Vec<(String, Child)> = (0..good)
        .map(|i| {
            let name = format!("busy-{i:03}");
            let child = publish(
                &avahi,
                &netns,
                &name,
                5000 + i as u16,
                &["v=1", "path=/pingpong", "state=serving"],
            );
            (name, child)
        })
        .collect();
    // Records pingpong refuses: a bad version, a path over the 64-byte limit.
    publishers.push((
        "bad-version".into(),
        publish(&avahi, &netns, "bad-version", 4000, &["v=banana"]),
    ));
    publishers.push((
        "bad-path".into(),
        publish(&avahi, &netns, "bad-path", 4001, &["v=1", &long_path]),
    ));
    for (name, child) in &mut publishers {
        established(name, child);
    }

    // discover (its default 2 s window) and python-zeroconf, in the same run.
    let zeroconf = zeroconf_browse(&netns, "4");
    let out = netns
        .command(bin())
        .args(["discover", "--json"])
        .env("PINGPONG_HOME", home.path())
        .output()
        .unwrap();
    let listed: BTreeSet<String> = json_array(&out)
        .iter()
        .map(|c| c["instance"].as_str().unwrap().to_string())
        .collect();
    let by_zeroconf: BTreeSet<String> = zeroconf_results(&zeroconf.wait_with_output().unwrap())
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("busy-"))
        .collect();
    let wanted: BTreeSet<String> = (0..good).map(|i| format!("busy-{i:03}")).collect();
    let missing: Vec<&String> = wanted.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "discover missed {} of {good}: {missing:?}",
        missing.len()
    );
    assert!(
        !listed.contains("bad-version") && !listed.contains("bad-path"),
        "{listed:?}"
    );
    assert_eq!(
        by_zeroconf.len(),
        good,
        "python-zeroconf listed {}",
        by_zeroconf.len()
    );
    println!(
        "discover listed {} services in its 2 s window; python-zeroconf {} in 4 s",
        listed.len(),
        by_zeroconf.len()
    );
    for (_, mut p) in publishers {
        let _ = p.kill();
        let _ = p.wait();
    }
}
