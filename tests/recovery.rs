//! Chaos tests: servers die, drain and restart under a pinging client, which
//! must lose nothing. Every assertion uses exact counts from the client's
//! `--json` summary. mDNS runs only inside the test's namespace.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use common::lan_lab::{lan_client, lan_setup};
use common::*;
use serde_json::Value;

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(
        &pingpong::tls::CertPaths::new(dir.path()),
        "recovery CA",
        30,
    )
    .unwrap();
    dir
}

/// The two servers' instance names, and which one the client is using.
fn serving(connected: &Value) -> String {
    connected["instance"].as_str().unwrap().to_string()
}

fn failover_test(signal: i32) -> (Value, Vec<Value>) {
    let netns = Netns::new();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];
    let servers = vec![
        ServerProcess::start_in(&netns, &strings(&["--instance", "alpha"]), &env),
        ServerProcess::start_in(&netns, &strings(&["--instance", "beta"]), &env),
    ];
    // Both known to discovery before the client starts.
    let mut command = netns.command(bin());
    command
        .args(["discover", "--timeout", "2"])
        .env("PINGPONG_HOME", home.path());
    let out = command.output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in ["alpha", "beta"] {
        assert!(
            listed
                .lines()
                .any(|row| row.split_whitespace().next() == Some(name)),
            "{name} is not listed: {}",
            describe(&out)
        );
    }

    let count = 300;
    let mut command = netns.command(bin());
    command
        .args([
            "client",
            "-c",
            &count.to_string(),
            "-i",
            "0.01",
            "--json",
            "--discover-timeout",
            "3",
        ])
        .env("PINGPONG_HOME", home.path());
    let mut client = JsonClient::spawn(command);
    let connected = client.until("connected");
    let victim = serving(&connected);
    let mut seen_before = Vec::new();
    while seen_before.len() < 50 {
        let event = client.next();
        if event["event"] == "pong" {
            seen_before.push(event["seq"].as_u64().unwrap());
        }
    }
    let index = if victim == "alpha" { 0 } else { 1 };
    servers[index].signal(signal);
    let mut events_between = Vec::new();
    let reconnected = loop {
        let event = client.next();
        if event["event"] == "reconnected" {
            break event;
        }
        events_between.push(event);
    };
    assert_ne!(
        serving(&reconnected),
        victim,
        "failed over to the server that went away"
    );
    let (summary, mut events, status) = client.finish();
    events.extend(events_between);
    // Every seq answered exactly once: the pong events cover 1..=count, no gaps,
    // no repeats (duplicates are dropped before they become events).
    let mut seqs: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "pong")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    seqs.extend(seen_before);
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=count).collect::<Vec<u64>>());
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
    drop(servers);
    (summary, events)
}

#[test]
fn sigkill_of_the_serving_server_fails_over_with_nothing_lost() {
    let (summary, _) = failover_test(libc::SIGKILL);
    assert!(summary["reconnects"].as_u64().unwrap() >= 1);
}

#[test]
fn sigterm_drains_the_client_to_the_other_server_with_nothing_lost() {
    let (summary, events) = failover_test(libc::SIGTERM);
    // The drain told the client why.
    let lost = events
        .iter()
        .find(|e| e["event"] == "session_lost")
        .expect("no session_lost event");
    assert!(
        lost["reason"].as_str().unwrap().contains("draining"),
        "{lost}"
    );
    assert_eq!(summary["reconnects"], 1, "{summary}");
}

#[test]
fn a_server_restarted_on_the_same_port_is_resumed_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut server = ServerProcess::start(&tls_args(&paths, pingpong::tls::LeafRole::Server), &[]);
    let port = server.addr.port();
    let count = 200;
    let mut command = std::process::Command::new(bin());
    command
        .arg("client")
        .args(strings(&[
            &server.url(),
            "-c",
            &count.to_string(),
            "-i",
            "0.01",
            "--json",
            "-W",
            "4",
        ]))
        .args(tls_args(&paths, pingpong::tls::LeafRole::Client));
    let mut client = JsonClient::spawn(command);
    client.until("connected");
    client.pongs(40);
    send_signal(&server.child, libc::SIGKILL);
    server.child.wait().unwrap();
    let mut args = strings(&["--listen", &format!("127.0.0.1:{port}")]);
    args.extend(tls_args(&paths, pingpong::tls::LeafRole::Server));
    let _restarted = ServerProcess::start(&args, &[]);
    let reconnected = client.until("reconnected");
    assert!(reconnected["url"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    let (summary, _, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0));
    // A restarted server is a new instance: that counts as a failover too.
    assert!(summary["reconnects"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn several_urls_fail_over_like_discovered_servers() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let servers: Vec<ServerProcess> = (0..2)
        .map(|_| ServerProcess::start(&tls_args(&paths, pingpong::tls::LeafRole::Server), &[]))
        .collect();
    let count = 300;
    let mut command = std::process::Command::new(bin());
    command
        .arg("client")
        .args(servers.iter().map(ServerProcess::url))
        .args(["-c", &count.to_string(), "-i", "0.01", "--json"])
        .args(tls_args(&paths, pingpong::tls::LeafRole::Client));
    let mut client = JsonClient::spawn(command);
    let connected = client.until("connected");
    let serving = servers
        .iter()
        .position(|s| connected["url"] == s.url())
        .unwrap_or_else(|| panic!("{connected}"));
    let seen = client.pong_seqs(50);
    send_signal(&servers[serving].child, libc::SIGKILL);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(seen, &events, count);
    let reconnected = events.iter().find(|e| e["event"] == "reconnected").unwrap();
    assert_eq!(
        reconnected["url"],
        servers[1 - serving].url(),
        "{reconnected}"
    );
    assert!(summary["hedged"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["failovers"], 1, "{summary}");
}

#[test]
fn the_serving_hosts_link_down_for_three_seconds_loses_nothing() {
    let setup = lan_setup();
    let count = 600;
    let mut client = lan_client(&setup, count, &[]);
    let connected = client.until("connected");
    let serving = if serving(&connected) == "hosta" { 0 } else { 1 };
    let mut seen = Vec::new();
    while seen.len() < 50 {
        let event = client.next();
        if event["event"] == "pong" {
            seen.push(event["seq"].as_u64().unwrap());
        }
    }
    setup.lan.set_link(serving, false);
    // The outage itself lasts three seconds (this is the scenario, not a wait
    // for something to happen).
    std::thread::sleep(std::time::Duration::from_secs(3));
    setup.lan.set_link(serving, true);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    assert!(summary["reconnects"].as_u64().unwrap() >= 1, "{summary}");
    all_answered_once(seen, &events, count);
}

#[test]
fn ten_percent_packet_loss_on_the_bridge_loses_nothing() {
    let setup = lan_setup();
    setup.lan.set_loss(10);
    let count = 300;
    let client = lan_client(&setup, count, &[]);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(Vec::new(), &events, count);
}
