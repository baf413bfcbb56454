//! Live views drop a server that died without a goodbye within seconds of a
//! failed attempt to reach it, anywhere on the link (RFC 6762 §10.4, §10.5),
//! and say why each server left. Four hosts (network namespaces) on one
//! bridge: servers on two, `discover --watch` on two, and on the fourth the
//! process that fails to reach the dead one: `discover --watch --probe`, or
//! the dashboard's agent. The figures (p50/p95/worst over many kills) come from
//! `cargo bench --bench liveness`; here each reason is checked once.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// How long a test waits for an event that is due within seconds: far less
/// than the 120 s TTL after which a dead server would leave anyway.
const PATIENCE: Duration = Duration::from_secs(40);

/// Waits on `events` until every one of `names` is listed.
fn until_listed(events: &mpsc::Receiver<Value>, names: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    let mut missing: Vec<&str> = names.to_vec();
    while !missing.is_empty() {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{missing:?} never listed"));
        if event["event"] == "added" {
            missing.retain(|name| event["instance"] != *name);
        }
    }
}

/// Waits on `events` for `name`'s removal and returns it; no other server may
/// leave meanwhile.
fn until_removed(events: &mpsc::Receiver<Value>, name: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{name} still listed after {PATIENCE:?}"));
        if event["event"] != "removed" {
            continue;
        }
        assert_eq!(event["instance"], name, "another server left: {event}");
        return event;
    }
}

/// `discover --watch --probe --json` on host `i`, probing every second.
fn prober(lan: &Lan, i: usize, home: &Path) -> (Child, mpsc::Receiver<Value>) {
    watch_as(
        lan,
        i,
        "prober",
        home,
        &["--probe", "--probe-interval", "1"],
    )
}

/// Waits on a prober's `events` for a failed probe of `name`.
fn until_probe_fails(events: &mpsc::Receiver<Value>, name: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no failed probe of {name}"));
        if event["event"] == "probe" && event["instance"] == name && event["probe"]["ok"] == false {
            return;
        }
    }
}

fn rust_server(lan: &Lan, i: usize, name: &str, home: &Path) -> ServerProcess {
    lan_server(lan, i, name, home, "[::]:0", &format!("srv-{name}"))
}

fn python_server(lan: &Lan, i: usize, name: &str, home: &Path) -> ServerProcess {
    let mut command: Command = on_host_running(&lan.hosts[i], name, home, &python_server_bin());
    command.args(["--listen", "[::]:0", "--instance", &format!("srv-{name}")]);
    ServerProcess::spawn(command)
}

/// The process on host 3 that tries to reach the servers, and so is the first
/// to fail when one dies.
#[derive(Clone, Copy, PartialEq)]
enum Reacher {
    /// `discover --watch --probe`, probing every second.
    Prober,
    /// The dashboard's agent (`pingpong web`), monitoring each server.
    Dashboard,
}

/// Kills the server on host 0 (no goodbye) while host 3 tries to reach it,
/// and checks that the watches on hosts 1 and 2 (and the prober) drop it
/// with "reconfirm-failed" while the other server stays; then stops the
/// other one and checks its "goodbye".
fn killed_then_stopped(
    lan: &Lan,
    dir: &Path,
    reacher: Reacher,
    mut victim: ServerProcess,
    mut other: ServerProcess,
) {
    let mut watches: Vec<(Child, mpsc::Receiver<Value>)> = [1, 2]
        .into_iter()
        .map(|i| watch(lan, i, &dir.join("viewer")))
        .collect();
    // The failing process: it knew the server before it died, and reaches it.
    let mut dashboard = None;
    match reacher {
        Reacher::Prober => watches.push(prober(lan, 3, &dir.join("prober"))),
        Reacher::Dashboard => {
            let mut command = on_host(&lan.hosts[3], "prober", &dir.join("prober"));
            command
                .args(["web", "--listen", "127.0.0.1:0", "--mdns-interface", "eth0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn().unwrap();
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            // It logs each server it starts monitoring.
            let mut monitoring = 0;
            while monitoring < 2 {
                let line = lines.next().expect("web exited").unwrap();
                monitoring += usize::from(line.contains("monitoring"));
            }
            std::thread::spawn(move || for _ in lines {});
            dashboard = Some(child);
        }
    }
    for (_, events) in &watches {
        until_listed(events, &["srv-hosta", "srv-hostb"]);
    }
    victim.signal(libc::SIGKILL);
    victim.wait_exit(Duration::from_secs(10));
    if reacher == Reacher::Prober {
        until_probe_fails(&watches[2].1, "srv-hosta");
    }
    for (_, events) in &watches {
        let event = until_removed(events, "srv-hosta");
        assert_eq!(event["reason"], "reconfirm-failed", "{event}");
    }
    other.signal(libc::SIGTERM);
    other.wait_exit(Duration::from_secs(10));
    for (_, events) in &watches {
        let event = until_removed(events, "srv-hostb");
        assert_eq!(event["reason"], "goodbye", "{event}");
    }
    for (mut child, _) in watches
        .into_iter()
        .chain(dashboard.map(|d| (d, mpsc::channel().1)))
    {
        child.kill().ok();
        child.wait().ok();
    }
}

#[test]
fn a_killed_server_leaves_every_watch_after_a_failed_probe_and_a_stopped_one_says_goodbye() {
    let lan = Lan::new(4);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "hostb", "viewer", "prober"]);
    let victim = rust_server(&lan, 0, "hosta", &dir.path().join("hosta"));
    let other = rust_server(&lan, 1, "hostb", &dir.path().join("hostb"));
    killed_then_stopped(&lan, dir.path(), Reacher::Prober, victim, other);
}

#[test]
fn a_killed_server_the_dashboard_monitors_leaves_every_watch() {
    let lan = Lan::new(4);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "hostb", "viewer", "prober"]);
    let victim = rust_server(&lan, 0, "hosta", &dir.path().join("hosta"));
    let other = rust_server(&lan, 1, "hostb", &dir.path().join("hostb"));
    killed_then_stopped(&lan, dir.path(), Reacher::Dashboard, victim, other);
}

#[test]
fn a_killed_python_server_leaves_every_watch_the_same_way() {
    let lan = Lan::new(4);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["hosta", "hostb", "viewer", "prober"]);
    let victim = python_server(&lan, 0, "hosta", &dir.path().join("hosta"));
    let other = python_server(&lan, 1, "hostb", &dir.path().join("hostb"));
    killed_then_stopped(&lan, dir.path(), Reacher::Prober, victim, other);
}
