//! A StatefulSet rolling update as the clients live through it
//! (docs/kubernetes.md#rolling-update): three real server pods behind SRV
//! records that dnsmasq serves the way CoreDNS serves the headless Service
//! (one record per ready pod, TTL 5 s), thirty real clients that were given
//! only the Service's name, and the pods replaced one at a time from the
//! highest ordinal down: SIGTERM (drain, record withdrawn), a new process on
//! the same address, its record back, then the StatefulSet's
//! `minReadySeconds` before the next. Nothing may be lost, and every pod must
//! end with a share of the clients (rebalancing, `client::rebalance`).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::{pki, pod, POD_RESOLV_CONF, SVC};
use common::dnsmasq::Dnsmasq;
use common::http::get_in;
use common::*;

const CLIENTS: usize = 30;
const PODS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
/// The bound on each pod's final share (of 30): drained clients go back to
/// their pod, so the spread after the rollout is the RFC 2782 draw before it,
/// outside this bound about once in 40,000 (`client::rebalance` tests);
/// without rebalancing the pod replaced last ends with none.
const SHARE: std::ops::RangeInclusive<usize> = 1..=22;
/// The manifest's minReadySeconds is 15 s for CoreDNS's cache and the client's
/// TTL (5 s each) plus endpoint propagation; here dnsmasq answers at once, so
/// the TTL and the rebalancing's settle time, with margin, are what the
/// clients need to learn of the new pod. The controller waits by the clock,
/// and so does this test.
const MIN_READY: Duration = Duration::from_secs(8);

/// One pod: its server process, its fixed port (the same after a restart, as
/// a pod's), and its operations endpoint.
struct Pod {
    server: ServerProcess,
    ip: &'static str,
    port: u16,
    metrics_port: u16,
}

fn start_pod(
    netns: &Netns,
    home: &Path,
    server_dir: &Path,
    ordinal: usize,
    port: u16,
    metrics_port: u16,
) -> Pod {
    let ip = PODS[ordinal];
    let server = pod(
        netns,
        home,
        server_dir,
        &format!("{ip}:{port}"),
        &format!("pingpong-{ordinal}"),
        &[
            "--drain-timeout",
            "10",
            "--metrics",
            &format!("{ip}:{metrics_port}"),
        ],
    );
    let metrics_port = common::http::metrics_addr(&server).port();
    let port = server.addr.port();
    Pod {
        server,
        ip,
        port,
        metrics_port,
    }
}

/// What CoreDNS serves for the ready pods: SRV per pod (priority 0, weight
/// floor(100/N)) with the pod's A record.
fn ready_records(pods: &[Option<&Pod>]) -> String {
    let ready = pods.iter().flatten().count();
    pods.iter()
        .enumerate()
        .filter_map(|(i, pod)| pod.map(|p| (i, p)))
        .map(|(i, pod)| {
            format!(
                "srv-host=_pingpong._udp.{SVC},pingpong-{i}.{SVC},{},0,{}\nhost-record=pingpong-{i}.{SVC},{}\n",
                pod.port,
                100 / ready,
                pod.ip
            )
        })
        .collect()
}

/// Sessions open on `pod` now.
fn sessions(netns: &Netns, pod: &Pod) -> usize {
    let body = get_in(
        netns,
        &format!("http://{}:{}/metrics", pod.ip, pod.metrics_port),
    );
    common::http::metric(&body, "pingpong_sessions_open ") as usize
}

/// A client with only the Service name, pinging every 200 ms until SIGINT;
/// its stdout and stderr lines are collected.
struct Client {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn start_client(netns: &Netns, home: &Path) -> Client {
    let mut child = netns
        .command(bin())
        .args(["client", "--dns", SVC, "-c", "0", "-i", "0.2"])
        .env("PINGPONG_HOME", home)
        .env_remove("PINGPONG_DNS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |stream: Box<dyn std::io::Read + Send>| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        lines
    };
    let out = collect(Box::new(child.stdout.take().unwrap()));
    let err = collect(Box::new(child.stderr.take().unwrap()));
    Client { child, out, err }
}

/// Polls `done` every 50 ms for up to `timeout`.
fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_rolling_update_loses_nothing_and_leaves_every_pod_a_share() {
    let netns = Netns::new();
    netns.set_resolv_conf(POD_RESOLV_CONF);
    let dir = tempfile::tempdir().unwrap();
    // The manifest's wildcard over the SRV targets: the clients verify the
    // pod names, nothing is pinned.
    let (home, server_dir) = pki(dir.path(), &[format!("*.{SVC}"), SVC.to_string()]);

    let mut pods: Vec<Pod> = (0..3)
        .map(|i| start_pod(&netns, &home, &server_dir, i, 0, 0))
        .collect();
    let mut dns = Dnsmasq::start(
        &netns,
        dir.path(),
        &ready_records(&pods.iter().map(Some).collect::<Vec<_>>()),
    );
    // Clients arrive one after another, as they do in a cluster (30 debug
    // builds starting in the same instant on 2 cores would race every pod and
    // pile onto whichever answered first).
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let client = start_client(&netns, &home);
            wait_until(Duration::from_secs(30), "a client's first session", || {
                client
                    .out
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.starts_with("PINGPONG"))
            });
            client
        })
        .collect();
    let before: Vec<usize> = pods.iter().map(|p| sessions(&netns, p)).collect();
    assert_eq!(before.iter().sum::<usize>(), CLIENTS, "{before:?}");

    for ordinal in [2, 1, 0] {
        // SIGTERM: the pod drains, its endpoint (and SRV record) goes.
        pods[ordinal].server.signal(libc::SIGTERM);
        let ready: Vec<Option<&Pod>> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| (i != ordinal).then_some(p))
            .collect();
        dns = dns.restart_with(&netns, &ready_records(&ready));
        let status = pods[ordinal].server.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "pingpong-{ordinal} exited with {status}");
        // The replacement: same address and ports, new process, ready.
        let (port, metrics_port) = (pods[ordinal].port, pods[ordinal].metrics_port);
        pods[ordinal] = start_pod(&netns, &home, &server_dir, ordinal, port, metrics_port);
        dns = dns.restart_with(
            &netns,
            &ready_records(&pods.iter().map(Some).collect::<Vec<_>>()),
        );
        std::thread::sleep(MIN_READY);
    }

    let spread: Vec<usize> = pods.iter().map(|p| sessions(&netns, p)).collect();
    let mut moves = 0;
    for mut client in clients {
        send_signal(&client.child, libc::SIGINT);
        assert!(client.child.wait().unwrap().success());
        let out = client.out.lock().unwrap().clone();
        let err = client.err.lock().unwrap().clone();
        let summary = out
            .iter()
            .find(|l| l.contains("pings transmitted"))
            .unwrap_or_else(|| panic!("no summary: {out:?} {err:?}"));
        assert!(summary.contains(" 0% loss"), "{summary}\n{err:?}");
        moves += err.iter().filter(|l| l.contains("moving there")).count();
    }
    eprintln!("clients per pod before {before:?}, after the rollout {spread:?}; {moves} rebalancing moves");
    assert_eq!(spread.iter().sum::<usize>(), CLIENTS, "{spread:?}");
    assert!(
        spread.iter().all(|n| SHARE.contains(n)),
        "clients per pod after the rollout: {spread:?} (bound {SHARE:?})"
    );
    drop(dns);
}
