//! Load: 200 clients × 1,000 pings each, at full speed (no interval, the
//! client's default window of 64 in flight), against one server process on
//! loopback. The clients are sessions spread over four client processes. Prints
//! pings answered and lost (every one must be answered), throughput, RTT p50 /
//! p99 over all pings, and the server's CPU time and memory.
//!
//! `cargo bench --bench load` (`PINGPONG_BENCH_QUICK=1`: 50 clients × 200 pings).

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "common/process.rs"]
mod process;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use pingpong::client::{Connector, PingEvent, PingOptions, PingRun};
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};
use process::{cores, cpu_time, order, report, rss_kib, spawn_server, Worker};
use tokio_util::sync::CancellationToken;

/// Client processes; each runs its share of the clients as concurrent sessions.
const CLIENT_PROCESSES: usize = 4;
const WORKER: &str = "PINGPONG_BENCH_LOAD_WORKER";
const WORKER_HOME: &str = "PINGPONG_BENCH_LOAD_HOME";
const WORKER_PORT: &str = "PINGPONG_BENCH_LOAD_PORT";
const WORKER_PINGS: &str = "PINGPONG_BENCH_LOAD_PINGS";

/// What one worker measured.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Share {
    sent: u64,
    received: u64,
    lost: u64,
    duplicates: u64,
    failed_sessions: u64,
    rtts_us: Vec<u32>,
}

impl Share {
    /// Adds another share's counts and samples to this one.
    fn absorb(&mut self, other: Share) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        self.failed_sessions += other.failed_sessions;
        self.rtts_us.extend(other.rtts_us);
    }
}

fn main() {
    if std::env::var_os(WORKER).is_some() {
        worker();
        return;
    }
    let quick = std::env::var_os("PINGPONG_BENCH_QUICK").is_some();
    let (clients, pings) = if quick { (50, 200) } else { (200, 1_000) };
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "load CA", 30).unwrap();
    let (server, port) = spawn_server(
        Command::new(env!("CARGO_BIN_EXE_pingpong")).args([
            "server",
            "--no-mdns",
            "--listen",
            "127.0.0.1:0",
        ]),
        dir.path(),
    );
    let cpu_before = cpu_time(&server);
    let mut workers: Vec<Worker> = (0..CLIENT_PROCESSES)
        .map(|i| {
            let share = clients / CLIENT_PROCESSES + usize::from(i < clients % CLIENT_PROCESSES);
            Worker::spawn(&[
                (WORKER, share.to_string()),
                (WORKER_HOME, dir.path().display().to_string()),
                (WORKER_PORT, port.to_string()),
                (WORKER_PINGS, pings.to_string()),
            ])
        })
        .collect();
    // Every worker opens its sessions first; then all ping at once.
    for worker in &mut workers {
        assert_eq!(worker.read(), "ready");
    }
    let started = Instant::now();
    workers.iter_mut().for_each(|w| w.send("go"));
    let mut total = Share::default();
    for worker in &mut workers {
        let share: Share = serde_json::from_str(&worker.read()).unwrap();
        total.absorb(share);
    }
    let elapsed = started.elapsed();
    assert!(
        !total.rtts_us.is_empty(),
        "no ping was answered ({} sessions failed)",
        total.failed_sessions
    );
    let rss = rss_kib(&server);
    let cpu = cpu_time(&server) - cpu_before;
    workers.into_iter().for_each(Worker::wait);
    total.rtts_us.sort_unstable();
    let percentile = |p: f64| {
        let rank = ((p / 100.0) * total.rtts_us.len() as f64).ceil() as usize;
        f64::from(total.rtts_us[rank.clamp(1, total.rtts_us.len()) - 1]) / 1000.0
    };
    let expected = (clients * pings) as u64;
    println!();
    println!(
        "{clients} clients x {pings} pings at full speed (window 64), one server, {CLIENT_PROCESSES} client processes, loopback, {} cores",
        cores()
    );
    println!(
        "pings sent / answered / lost    {} / {} / {}",
        total.sent, total.received, total.lost
    );
    println!(
        "duplicates, failed sessions     {} , {}",
        total.duplicates, total.failed_sessions
    );
    println!(
        "wall time                       {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "throughput                      {:.0} pings/s",
        total.received as f64 / elapsed.as_secs_f64()
    );
    println!(
        "RTT p50 / p99 / max             {:.2} / {:.2} / {:.2} ms",
        percentile(50.0),
        percentile(99.0),
        percentile(100.0)
    );
    println!(
        "server CPU time, RSS at the end {:.1} s , {} MiB",
        cpu.as_secs_f64(),
        rss / 1024
    );
    let verdict = if total.received == expected && total.lost == 0 {
        "all answered, 0 lost"
    } else {
        "NOT ALL ANSWERED"
    };
    println!("verdict                         {verdict}");
    assert_eq!(total.received, expected, "pings went unanswered");
}

/// In a worker process: its clients, each a session pinging at full speed.
fn worker() {
    let var = |name| std::env::var(name).unwrap();
    let clients: usize = var(WORKER).parse().unwrap();
    let paths = CertPaths::new(var(WORKER_HOME));
    let port: u16 = var(WORKER_PORT).parse().unwrap();
    let pings: u64 = var(WORKER_PINGS).parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let connector = Arc::new(
            Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None)
                .unwrap()
                .with_connect_timeout(Duration::from_secs(30)),
        );
        let url = format!("https://127.0.0.1:{port}/pingpong");
        let sessions: Vec<_> = stream::iter(0..clients)
            .map(|_| {
                let connector = connector.clone();
                let url = url.clone();
                async move { connector.open(&url).await }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        report("ready");
        assert_eq!(order(), "go");
        let options = PingOptions {
            count: Some(pings),
            interval: Duration::ZERO,
            ..PingOptions::default()
        };
        let shares = stream::iter(sessions)
            .map(|session| {
                let options = options.clone();
                async move {
                    let mut share = Share::default();
                    let Ok(mut session) = session else {
                        share.failed_sessions = 1;
                        return share;
                    };
                    let mut run = PingRun::new(&options);
                    let result = session
                        .ping(&mut run, &CancellationToken::new(), |event| {
                            if let PingEvent::Pong { rtt, .. } = event {
                                share
                                    .rtts_us
                                    .push(rtt.as_micros().min(u128::from(u32::MAX)) as u32);
                            }
                        })
                        .await;
                    if result.is_err() {
                        share.failed_sessions = 1;
                    }
                    let summary = run.summary();
                    share.sent = summary.transmitted;
                    share.received = summary.received;
                    share.lost = summary.lost;
                    share.duplicates = summary.duplicates;
                    session.close().await;
                    share
                }
            })
            .buffer_unordered(clients.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut total = Share::default();
        for share in shares {
            total.absorb(share);
        }
        report(&serde_json::to_string(&total).unwrap());
        connector.shutdown().await;
    });
}
