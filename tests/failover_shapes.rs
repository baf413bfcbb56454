//! Failover on the shapes a dead server really takes (docs/recovery.md): a
//! hung process that keeps its sockets (SIGSTOP), a one-way partition, a
//! killed server with a warm standby, and no false alarm under random loss on
//! a busy machine. Three hosts in network namespaces on a bridge, mDNS
//! discovery, real processes; every seq checked to be answered exactly once
//! from the client's `--json` events.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::process::{Child, Command, Stdio};

use common::lan_lab::{lan_client, lan_setup, LanSetup};
use common::*;
use serde_json::Value;

/// The index of the server host the client is using.
fn serving(connected: &Value) -> usize {
    match connected["instance"].as_str() {
        Some("hosta") => 0,
        Some("hostb") => 1,
        other => panic!("connected to an unknown server: {other:?}"),
    }
}

/// Pings 400 times every 10 ms with `extra` flags; after 50 pongs, does `act`
/// to the serving host. Checks that every seq was answered exactly once and
/// nothing was lost; returns the summary.
fn through(extra: &[&str], act: impl FnOnce(&LanSetup, usize)) -> Value {
    let setup = lan_setup();
    let count = 400;
    let mut client = lan_client(&setup, count, extra);
    let connected = client.until("connected");
    let seen = client.pong_seqs(50);
    act(&setup, serving(&connected));
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(seen, &events, count);
    let switched = events
        .iter()
        .find(|e| e["event"] == "reconnected")
        .unwrap_or_else(|| panic!("never switched servers: {summary}"));
    assert_ne!(
        serving(switched),
        serving(&connected),
        "switched to the server that failed"
    );
    summary
}

#[test]
fn a_hung_server_that_keeps_its_sockets_is_hedged_then_replaced() {
    let summary = through(&[], |setup, i| {
        send_signal(&setup.servers[i].child, libc::SIGSTOP);
    });
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["hedged"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn a_one_way_partition_is_hedged_then_replaced() {
    // The serving host still hears the client's pings; its pongs never arrive.
    let summary = through(&[], |setup, i| setup.lan.drop_from(i));
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["hedged"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn a_killed_server_is_replaced_by_the_warm_standby() {
    let summary = through(&["--standby", "1"], |setup, i| {
        send_signal(&setup.servers[i].child, libc::SIGKILL);
    });
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
}

/// Busy loops on every core, ended when dropped.
struct CpuHog(Vec<Child>);

impl CpuHog {
    fn on_every_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self(
            (0..cores)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect(),
        )
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn ten_percent_loss_on_a_busy_machine_is_no_failover() {
    let setup = lan_setup();
    setup.lan.set_loss(10);
    let _hog = CpuHog::on_every_core();
    let count = 2000;
    let client = lan_client(&setup, count, &[]);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(Vec::new(), &events, count);
    assert_eq!(summary["failovers"], 0, "{summary}");
    assert_eq!(summary["reconnects"], 0, "{summary}");
    println!("{summary}");
}
