//! mDNS interop with the implementations people already run: avahi (the Linux
//! daemon, through avahi-browse / avahi-publish) and python-zeroconf. Each test
//! runs in its own network namespace with a veth "LAN".

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::peers::{interop_script, python, Avahi};
use common::*;
use serde_json::Value;

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(
        &pingpong::tls::CertPaths::new(dir.path()),
        "interop CA",
        30,
    )
    .unwrap();
    dir
}

fn discover_json(netns: &Netns, home: &Path) -> Vec<Value> {
    let out = netns
        .command(bin())
        .args(["discover", "--json", "--timeout", "3"])
        .env("PINGPONG_HOME", home)
        .output()
        .unwrap();
    json_array(&out)
}

#[test]
fn avahi_sees_pingpong_and_pingpong_sees_avahi() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];

    // avahi-browse resolves a pingpong server and its TXT.
    let server = ServerProcess::start_in(
        &netns,
        &strings(&["--instance", "web1", "--listen", "[::]:0"]),
        &env,
    );
    // Browse until the IPv4 record resolves (the server may still be announcing).
    let mut browse = avahi
        .command(&netns, "avahi-browse")
        .args(["-rp", "_pingpong._udp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_with_deadline(browse.stdout.take().unwrap(), Duration::from_secs(15));
    let resolved = lines
        .iter()
        .find(|l| l.starts_with("=;pp0;IPv4;web1;_pingpong._udp;local;"))
        .cloned();
    let _ = browse.kill();
    let _ = browse.wait();
    let resolved = resolved.unwrap_or_else(|| {
        panic!(
            "avahi-browse did not resolve web1 over IPv4:\n{}",
            lines.join("\n")
        )
    });
    let fields: Vec<&str> = resolved.split(';').collect();
    assert_eq!(fields[7], "10.99.0.1", "{resolved}");
    assert_eq!(fields[8], server.addr.port().to_string(), "{resolved}");
    for txt in [
        "\"v=1\"",
        "\"path=/pingpong\"",
        "\"state=serving\"",
        "\"id=",
        "\"fp=",
    ] {
        assert!(fields[9].contains(txt), "{txt} missing from {resolved}");
    }

    // pingpong discover sees a service published by avahi-publish.
    let mut publish = avahi
        .command(&netns, "avahi-publish")
        .args([
            "-s",
            "from-avahi",
            "_pingpong._udp",
            "4999",
            "v=1",
            "path=/pingpong",
            "state=serving",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(publish.stderr.take().unwrap()).lines();
    let established = err.next().expect("avahi-publish exited").unwrap();
    assert!(
        established.contains("Established under name 'from-avahi'"),
        "{established}"
    );
    let found = discover_json(&netns, home.path());
    let from_avahi = found
        .iter()
        .find(|c| c["instance"] == "from-avahi")
        .unwrap_or_else(|| panic!("discover did not see the avahi service: {found:?}"));
    assert_eq!(from_avahi["port"], 4999);
    assert_eq!(from_avahi["host"], "avahi-peer.local");
    assert_eq!(from_avahi["version"], 1);
    assert!(from_avahi["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "10.99.0.1:4999"));
    let _ = publish.kill();
    let _ = publish.wait();
}

#[test]
fn python_zeroconf_sees_pingpong_and_pingpong_sees_python_zeroconf() {
    let python = python();
    let netns = Netns::new().with_lan();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];

    // python-zeroconf's browser resolves a pingpong server.
    let server = ServerProcess::start_in(&netns, &strings(&["--instance", "web2"]), &env);
    let out = netns
        .command(python.to_str().unwrap())
        .args([
            interop_script("zeroconf_browse.py").as_str(),
            "_pingpong._udp.local.",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let seen: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let web2 = seen
        .iter()
        .find(|s| s["name"] == "web2._pingpong._udp.local.")
        .unwrap_or_else(|| panic!("zeroconf did not resolve web2: {}", describe(&out)));
    assert_eq!(web2["port"], server.addr.port());
    assert_eq!(web2["properties"]["v"], "1");
    assert_eq!(web2["properties"]["state"], "serving");
    assert_eq!(web2["properties"]["id"].as_str().unwrap().len(), 32);

    // pingpong discover sees a service registered by python-zeroconf.
    let mut register = netns
        .command(python.to_str().unwrap())
        .args([
            interop_script("zeroconf_register.py").as_str(),
            "_pingpong._udp.local.",
            "from-zeroconf",
            "4998",
            "10.99.0.1",
            "v=1",
            "path=/pingpong",
            "state=draining",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(register.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("registered from-zeroconf"), "{line:?}");
    // A record with a malformed TXT is skipped, not shown, and nothing crashes.
    let mut bad = netns
        .command(python.to_str().unwrap())
        .args([
            interop_script("zeroconf_register.py").as_str(),
            "_pingpong._udp.local.",
            "bad-txt",
            "4997",
            "10.99.0.1",
            "v=banana",
            "path=no-slash",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(bad.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("registered bad-txt"), "{line:?}");
    let found = discover_json(&netns, home.path());
    assert!(
        !found.iter().any(|c| c["instance"] == "bad-txt"),
        "{found:?}"
    );
    bad.stdin.take().unwrap().write_all(b"").unwrap();
    let _ = bad.wait_timeout_or_kill(Duration::from_secs(5));
    let from_zc = found
        .iter()
        .find(|c| c["instance"] == "from-zeroconf")
        .unwrap_or_else(|| panic!("discover did not see the zeroconf service: {found:?}"));
    assert_eq!(from_zc["port"], 4998);
    assert_eq!(from_zc["state"], "draining");
    assert_eq!(from_zc["host"], "zeroconf-peer.local");
    // Closing stdin unregisters.
    register.stdin.take().unwrap().write_all(b"").unwrap();
    let _ = register.wait_timeout_or_kill(Duration::from_secs(5));
}

/// Lines of `out` until one resolves web1 over IPv4, or until `timeout`.
fn lines_with_deadline(out: std::process::ChildStdout, timeout: Duration) -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + timeout;
    let mut lines = Vec::new();
    while let Ok(line) =
        rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        let done = line.starts_with("=;pp0;IPv4;web1;");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

trait WaitOrKill {
    fn wait_timeout_or_kill(&mut self, timeout: Duration) -> Option<std::process::ExitStatus>;
}

impl WaitOrKill for Child {
    fn wait_timeout_or_kill(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        use wait_timeout::ChildExt;
        let status = self.wait_timeout(timeout).unwrap();
        if status.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
        status
    }
}
