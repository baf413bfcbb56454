//! `pingpong publish --register-dns ZONE --tsig-key FILE`: a service of any
//! type registered in a real BIND zone by RFC 2136 update, browsed from
//! another subnet by avahi (wide-area DNS-SD) and by `discover --type`,
//! renamed when another host holds the name, taken back by the same host
//! after a crash, and removed on SIGTERM. Subnet A (10.81.0.0/24) holds the
//! publishers, subnet B (10.82.0.0/24) the browser; named runs on the router
//! between them and is the zone's primary, found from its SOA.

// Linux only (network namespaces, signals, BIND): on other systems this test
// crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use common::named::{dig, wait_for_records, Named, NAMED_A, NAMED_B, ZONE};
use common::routed::Routed;
use common::*;
use serde_json::Value;

/// A `pingpong publish` process and its stdout lines; killed when dropped.
struct Publish {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Publish {
    /// `pingpong publish ARGS --register-dns lab.test --tsig-key KEY` on
    /// `netns`, with host name `host`.
    fn start(netns: &Netns, host: &str, key: &Path, args: &[&str]) -> Self {
        let mut child = on_host(netns, host, Path::new("/nonexistent"))
            .arg("publish")
            .args(args)
            .args(["--register-dns", ZONE, "--tsig-key"])
            .arg(key)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next line starting with `registered`: it says the name used.
    fn registered(&mut self) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with("registered ") {
                return line;
            }
        }
        panic!("publish exited before it was registered");
    }

    /// SIGTERM, and its exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        send_signal(&self.child, libc::SIGTERM);
        self.child.wait().unwrap()
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The zone's `_http._tcp` instances (PTR targets), sorted.
fn instances(lab: &Routed) -> Vec<String> {
    dig(
        &|p| lab.on_router(p),
        NAMED_A,
        &format!("_http._tcp.{ZONE}"),
        "PTR",
    )
}

/// `named` on the router, answering once it has started.
fn named(lab: &Routed, dir: &Path) -> Named {
    let named = Named::start(&|p| lab.on_router(p), dir, &[NAMED_A, NAMED_B]);
    wait_for_records(
        &|p| lab.on_router(p),
        ZONE,
        "SOA",
        Duration::from_secs(20),
        |soa| !soa.is_empty(),
    );
    named
}

#[test]
fn a_published_service_is_registered_browsed_from_another_subnet_and_removed() {
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = named(&lab, dir.path());
    let wiki = &lab.a.hosts[0];
    let mut first = Publish::start(
        wiki,
        "wiki",
        &named.key,
        &[
            "Wiki Page",
            "_http._tcp",
            "8080",
            "path=/wiki",
            "lang=fr",
            "--no-mdns",
        ],
    );
    assert_eq!(
        first.registered(),
        format!("registered \"Wiki Page\" _http._tcp in DNS zone {ZONE}")
    );
    let instance = format!("Wiki\\032Page._http._tcp.{ZONE}");
    let on_router = |p: &str| lab.on_router(p);
    assert_eq!(instances(&lab), [format!("{instance}.")]);
    assert_eq!(
        dig(&on_router, NAMED_A, &instance, "SRV"),
        [format!("0 100 8080 wiki.{ZONE}.")]
    );
    assert_eq!(
        dig(&on_router, NAMED_A, &instance, "TXT"),
        ["\"path=/wiki\" \"lang=fr\""]
    );
    assert_eq!(
        dig(&on_router, NAMED_A, &format!("wiki.{ZONE}"), "A"),
        ["10.81.0.1"]
    );

    // From subnet B: avahi's wide-area DNS-SD and pingpong both resolve it.
    let viewer = &lab.b.hosts[0];
    let avahi = common::peers::Avahi::start_on(viewer, "eth0", true);
    let out = avahi.browse_domain(viewer, ZONE, "_http._tcp");
    let text = String::from_utf8_lossy(&out.stdout);
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with('=') && l.contains("Wiki\\032Page"))
        .unwrap_or_else(|| panic!("avahi did not resolve it: {text}"))
        .split(';')
        .collect();
    assert_eq!(
        (row[6], row[7], row[8]),
        ("wiki.lab.test", "10.81.0.1", "8080"),
        "{row:?}"
    );
    assert!(row[9].contains("\"path=/wiki\""), "{row:?}");
    let discovered = || {
        let out = viewer
            .command(bin())
            .args([
                "discover",
                "--type",
                "_http._tcp",
                "--dns-sd",
                ZONE,
                "--json",
            ])
            .output()
            .unwrap();
        json_array(&out)
    };
    let found = discovered();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["instance"], "Wiki Page");
    assert_eq!(found[0]["addresses"][0], "10.81.0.1:8080");
    // In record order.
    assert_eq!(
        found[0]["txt"],
        serde_json::json!([["path", "/wiki"], ["lang", "fr"]])
    );

    // Another host asking for the same name gets the next one.
    let mut other = Publish::start(
        &lab.a.hosts[1],
        "other",
        &named.key,
        &["Wiki Page", "_http._tcp", "8080", "--no-mdns"],
    );
    assert_eq!(
        other.registered(),
        format!("registered \"Wiki Page (2)\" _http._tcp in DNS zone {ZONE}")
    );

    // A crash leaves the records; the same host and port take the name back.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let mut again = Publish::start(
        wiki,
        "wiki",
        &named.key,
        &["Wiki Page", "_http._tcp", "8080", "path=/v2", "--no-mdns"],
    );
    assert_eq!(
        again.registered(),
        format!("registered \"Wiki Page\" _http._tcp in DNS zone {ZONE}")
    );
    assert_eq!(dig(&on_router, NAMED_A, &instance, "TXT"), ["\"path=/v2\""]);
    assert_eq!(instances(&lab).len(), 2, "{:?}", instances(&lab));

    // SIGTERM removes this publisher's records, and only them.
    assert!(again.stop().success());
    let left = instances(&lab);
    assert_eq!(
        left,
        [format!("Wiki\\032Page\\032\\(2\\)._http._tcp.{ZONE}.")]
    );
    assert!(dig(&on_router, NAMED_A, &instance, "SRV").is_empty());
    assert!(dig(&on_router, NAMED_A, &format!("wiki.{ZONE}"), "A").is_empty());
    let found: Vec<Value> = discovered();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["instance"], "Wiki Page (2)");
    assert!(other.stop().success());
    assert!(instances(&lab).is_empty());
}

#[test]
fn publish_register_dns_mistakes_are_one_line() {
    let netns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("update.key");
    common::named::keygen(&key);
    let key = key.to_str().unwrap();
    let refused = |args: &[&str], says: &str| {
        let out = netns
            .command(bin())
            .arg("publish")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        stderr.into_owned()
    };
    let no_key = refused(
        &["web", "_http._tcp", "80", "--register-dns", ZONE],
        "--register-dns needs --tsig-key FILE",
    );
    assert_eq!(no_key.lines().count(), 1, "{no_key}");
    let subtype = refused(
        &[
            "web",
            "_printer._sub._http._tcp",
            "80",
            "--register-dns",
            ZONE,
            "--tsig-key",
            key,
        ],
        "registers a service type, not a subtype: give _http._tcp",
    );
    assert_eq!(subtype.lines().count(), 1, "{subtype}");
    // clap's own usage message names the missing flag.
    refused(&["web", "_http._tcp", "80", "--no-mdns"], "--register-dns");
}
