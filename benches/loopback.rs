//! Loopback benchmark: pingpong next to baselines measured in the same run.
//!
//! The binary (d) is measured against the lean limit (`common/lean.rs`): a
//! raw QUIC echo built for speed in the binary's shape, an echo server process
//! and a client process on `current_thread` runtimes, one stream, a length
//! prefix and the payload, the same mTLS; and the same over a bare
//! wtransport session. Rows:
//!
//! (d) the `pingpong` binary as users run it: `pingpong client` processes
//!     against a `pingpong server` process: sequential RTT p50 and p99 (one in
//!     flight), pipelined pings/s (64 in flight), CPU time and system calls
//!     per ping in each process (`perf stat`, see `common/cost.rs`), each as a
//!     ratio to the lean echoes in the same round; and how soon `client -c 1`
//!     exits after its pong.
//!
//! The library inside one process, for context, against baselines that carry
//! what they say (a raw quinn echo and a bare WebTransport echo in this
//! benchmark's own two-worker runtime, with pingpong's keep-alive timers):
//! (a) sequential ping RTT on one session, and a plain UDP echo;
//! (b) pipelined pings per second with 64 in flight;
//! (c) mTLS session setups per second of setup time (closes are not timed:
//!     pingpong's waits for its Goodbye to be acknowledged, the baselines'
//!     do not wait), full handshakes against a raw quinn mTLS handshake plus
//!     one stream round trip and a bare wtransport session plus one stream
//!     round trip (what HTTP/3 and the CONNECT exchange cost by themselves);
//!     then resumed handshakes (TLS 1.3 tickets) against quinn resuming, and
//!     against pingpong's own full handshakes.
//!
//! Every figure is the median of several interleaved rounds, so that a noisy
//! neighbour hurts both sides alike; a ratio is taken within each round, and
//! its median is printed with the rounds' spread. Run with
//! `cargo bench --bench loopback`; `PINGPONG_BENCH_QUICK=1` shortens every
//! phase.

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "common/baselines.rs"]
mod baselines;
#[path = "common/binary.rs"]
mod binary;
#[path = "common/cost.rs"]
mod cost;
#[path = "common/echo.rs"]
mod echo;
#[path = "common/lean.rs"]
mod lean;
#[path = "common/process.rs"]
mod process;
#[path = "common/rtt.rs"]
mod rtt;

use std::time::{Duration, Instant};

use baselines::{udp_rtts_us, QuinnEcho, WtEcho};
use echo::full_handshakes;
use pingpong::client::{Connector, PingOptions};
use pingpong::server::{Server, ServerConfig};
use pingpong::tls::{client_tls_config, store, CertPaths, LeafRole, TlsMaterial};
use rtt::{median, percentile, sequential_rtts_us};
use tokio_util::sync::CancellationToken;

/// `client -c 1` runs per round: process start, one pong, exit.
const SINGLE_PINGS: usize = 5;

struct Sizes {
    rounds: usize,
    rtt_pings: u64,
    pipelined_pings: u64,
    setups: usize,
}

fn sizes() -> Sizes {
    if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
        Sizes {
            rounds: 3,
            rtt_pings: 1_000,
            pipelined_pings: 20_000,
            setups: 50,
        }
    } else {
        Sizes {
            rounds: 5,
            rtt_pings: 5_000,
            pipelined_pings: 200_000,
            setups: 300,
        }
    }
}

// ---------- pingpong ----------

async fn pingpong_pipelined_per_sec(connector: &Connector, url: &str, count: u64) -> f64 {
    let mut session = connector.open(url).await.expect("pingpong session setup");
    let options = PingOptions {
        count: Some(count),
        interval: Duration::ZERO,
        in_flight: 64,
        ..PingOptions::default()
    };
    let t = Instant::now();
    let mut run = pingpong::client::PingRun::new(&options);
    let result = session
        .ping(&mut run, &CancellationToken::new(), |_| {})
        .await;
    let rate = count as f64 / t.elapsed().as_secs_f64();
    assert!(
        result.is_ok() && run.summary().received == count,
        "{result:?}"
    );
    session.close().await;
    rate
}

/// Sessions (handshake, CONNECT, Hello/Welcome) per second of setting up:
/// the close (Goodbye, then the connection's) is not timed, as the baselines'
/// is not.
async fn pingpong_setups_per_sec(connector: &Connector, url: &str, count: usize) -> f64 {
    let mut setting_up = Duration::ZERO;
    for _ in 0..count {
        let t = Instant::now();
        let session = connector.open(url).await.expect("pingpong session setup");
        setting_up += t.elapsed();
        session.close().await;
    }
    count as f64 / setting_up.as_secs_f64()
}

fn row(name: &str, ours: f64, base_name: &str, base: f64, unit: &str, target: &str) {
    println!("{name:<46} {ours:>10.1} {unit:<4} {base_name:<10} {base:>10.1} {unit:<4} {:>6.2}x  {target}", ours / base);
}

/// A row of per-round pairs: the medians of each side, and the median of the
/// rounds' ratios with their spread.
fn ratio_row(name: &str, ours: &[f64], base_name: &str, base: &[f64], unit: &str, target: &str) {
    let ratios: Vec<f64> = ours.iter().zip(base).map(|(o, b)| o / b).collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(*r), hi.max(*r))
        });
    let (ours, base) = (median(ours.to_vec()), median(base.to_vec()));
    // Costs per ping are fractions of a µs when pipelined.
    let digits = if ours.max(base) < 10.0 { 3 } else { 1 };
    println!(
        "{name:<46} {ours:>10.digits$} {unit:<4} {base_name:<10} {base:>10.digits$} {unit:<4} {:>6.2}x ({lo:.2}-{hi:.2})  {target}",
        median(ratios),
    );
}

/// The binary's figures and the lean echoes', one entry per round.
#[derive(Default)]
struct Binary {
    p50: Vec<f64>,
    p99: Vec<f64>,
    rate: Vec<f64>,
    quinn_p50: Vec<f64>,
    quinn_p99: Vec<f64>,
    quinn_rate: Vec<f64>,
    wt_p50: Vec<f64>,
    wt_rate: Vec<f64>,
    /// CPU µs and system calls per ping, client and server: sequential, then
    /// pipelined; the binary's, then lean quinn's.
    costs: Vec<[cost::Costs; 4]>,
}

/// Payload bytes per ping: the client's default (`-s 56`).
const PAYLOAD: usize = 56;
/// Pings in flight when pipelined: the client's default window.
const WINDOW: u64 = 64;
/// The CPU every server process (the binary's and the lean echoes) runs on.
const SERVER_CPU: usize = 0;

/// Where the client processes run, next to servers pinned to [`SERVER_CPU`].
/// On this kind of machine (a virtual one) waking an idle core costs tens of
/// µs, so a round trip across two cores is several times one on a single
/// core, and an unpinned run lands on either by chance: each is measured
/// pinned, both sides alike.
#[derive(Clone, Copy)]
struct Placement {
    name: &'static str,
    client_cpu: usize,
}

const PLACEMENTS: [Placement; 2] = [
    // Client and server share one core: a round trip is all CPU work, so
    // this shows every µs either process spends.
    Placement {
        name: "one core",
        client_cpu: SERVER_CPU,
    },
    // As two hosts are: each side wakes on its own core.
    Placement {
        name: "two cores",
        client_cpu: SERVER_CPU + 1,
    },
];

/// One round of the binary against the lean echoes, interleaved, with the
/// clients on `placement`'s core.
#[allow(clippy::too_many_arguments)]
fn binary_round(
    home: &std::path::Path,
    url: &str,
    server_pid: u32,
    lean: &[lean::LeanEcho; 2],
    sizes: &Sizes,
    measure_cost: bool,
    placement: Placement,
    out: &mut Binary,
) {
    let cpu = placement.client_cpu;
    let [quinn, wt] = lean;
    let (n, m) = (sizes.rtt_pings, sizes.pipelined_pings);
    let pinned =
        |mut command: std::process::Command| process::pin(&mut command, cpu).output().unwrap();
    let run = quinn.run(home, n, 1, PAYLOAD, cpu);
    out.quinn_p50.push(run.p50_us);
    out.quinn_p99.push(run.p99_us);
    let (p50, p99) = binary::rtt_us(&binary::summary(&pinned(binary::sequential_command(
        home, url, n,
    ))));
    out.p50.push(p50);
    out.p99.push(p99);
    out.wt_p50.push(wt.run(home, n, 1, PAYLOAD, cpu).p50_us);
    out.quinn_rate
        .push(quinn.run(home, m, WINDOW, PAYLOAD, cpu).per_sec);
    out.rate.push(binary::per_sec(&binary::summary(&pinned(
        binary::pipelined_command(home, url, m),
    ))));
    out.wt_rate
        .push(wt.run(home, m, WINDOW, PAYLOAD, cpu).per_sec);
    if measure_cost {
        let quinn_pid = quinn.process.0.id();
        let (o, ours_seq) = cost::measure(
            server_pid,
            &binary::sequential_command(home, url, n),
            cpu,
            n,
        );
        binary::summary(&o);
        let (o, ours_pipe) =
            cost::measure(server_pid, &binary::pipelined_command(home, url, m), cpu, m);
        binary::summary(&o);
        let (o, lean_seq) = cost::measure(quinn_pid, &quinn.client(home, n, 1, PAYLOAD), cpu, n);
        lean::parse_run(&o);
        let (o, lean_pipe) =
            cost::measure(quinn_pid, &quinn.client(home, m, WINDOW, PAYLOAD), cpu, m);
        lean::parse_run(&o);
        out.costs.push([ours_seq, ours_pipe, lean_seq, lean_pipe]);
    }
}

fn print_binary(placement: Placement, b: &Binary) {
    let label = |what: &str| format!("(d) {what}, {}", placement.name);
    ratio_row(
        &label("binary: seq. RTT p50"),
        &b.p50,
        "lean quinn",
        &b.quinn_p50,
        "us",
        "<= 1.10x",
    );
    ratio_row(
        &label("binary: seq. RTT p99"),
        &b.p99,
        "lean quinn",
        &b.quinn_p99,
        "us",
        "<= 1.25x",
    );
    ratio_row(
        &label("binary: seq. RTT p50"),
        &b.p50,
        "lean wt",
        &b.wt_p50,
        "us",
        "(context)",
    );
    ratio_row(
        &label("lean wt: seq. RTT p50"),
        &b.wt_p50,
        "lean quinn",
        &b.quinn_p50,
        "us",
        "(context: what wtransport adds)",
    );
    ratio_row(
        &label("binary: pipelined"),
        &b.rate,
        "lean quinn",
        &b.quinn_rate,
        "/s",
        ">= 0.90x",
    );
    ratio_row(
        &label("binary: pipelined"),
        &b.rate,
        "lean wt",
        &b.wt_rate,
        "/s",
        "(context)",
    );
    ratio_row(
        &label("lean wt: pipelined"),
        &b.wt_rate,
        "lean quinn",
        &b.quinn_rate,
        "/s",
        "(context: what wtransport adds)",
    );
    if !b.costs.is_empty() {
        for (shape, ours, lean) in [("seq.", 0, 2), ("pipelined", 1, 3)] {
            type Pick = fn(&cost::Costs) -> f64;
            let sides: [(&str, Pick, Pick); 2] = [
                ("client", |c| c.client.cpu_us, |c| c.client.syscalls),
                ("server", |c| c.server.cpu_us, |c| c.server.syscalls),
            ];
            for (side, cpu, calls) in sides {
                let of = |i: usize, f: Pick| b.costs.iter().map(|c| f(&c[i])).collect::<Vec<_>>();
                ratio_row(
                    &label(&format!("CPU us/ping {side} {shape}")),
                    &of(ours, cpu),
                    "lean quinn",
                    &of(lean, cpu),
                    "us",
                    "<= 1.20x",
                );
                ratio_row(
                    &label(&format!("syscalls/ping {side} {shape}")),
                    &of(ours, calls),
                    "lean quinn",
                    &of(lean, calls),
                    "",
                    "<= 1.20x",
                );
            }
        }
    }
}

fn main() {
    // A lean echo process plays its role on its own current_thread runtime.
    if lean::play_role() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

async fn bench() {
    let sizes = sizes();
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "bench CA", 30).unwrap();
    let server_material = TlsMaterial::from_dir(&paths, LeafRole::Server);
    let client_material = TlsMaterial::from_dir(&paths, LeafRole::Client);

    let mut config = ServerConfig::new(server_material.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(config).unwrap();
    let url = format!("https://127.0.0.1:{}/pingpong", server.local_addr().port());
    let shutdown = CancellationToken::new();
    let server_task = tokio::spawn(server.run(shutdown.clone()));
    let connector = Connector::new(&client_material, None).unwrap();
    let full_connector = Connector::from_rustls(full_handshakes(
        client_tls_config(&client_material, None).unwrap(),
    ))
    .unwrap();
    let quinn = QuinnEcho::start(&server_material, &client_material);
    let wt = WtEcho::start(&server_material, &client_material);
    let home = dir.path();
    let (server_process, process_url) = binary::start_server(home, Some(SERVER_CPU));
    let lean = [
        lean::start(home, lean::Stack::Quinn, Some(SERVER_CPU)),
        lean::start(home, lean::Stack::WebTransport, Some(SERVER_CPU)),
    ];
    let measure_cost = cost::available();
    let placements: Vec<Placement> = PLACEMENTS
        .into_iter()
        .filter(|p| p.client_cpu < process::cores())
        .collect();
    let mut bins: Vec<Binary> = placements.iter().map(|_| Binary::default()).collect();
    let (mut first_pong, mut exit) = (vec![], vec![]);

    let (mut ours_p50, mut ours_p99, mut quinn_p50, mut quinn_p99, mut udp_p50) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut ours_rate, mut quinn_rate, mut ours_setup, mut quinn_setup) =
        (vec![], vec![], vec![], vec![]);
    let (mut wt_setup, mut wt_p50) = (vec![], vec![]);
    let (mut resumed_setup, mut quinn_resumed_setup) = (vec![], vec![]);
    // Warm-up: first handshakes, allocations, page cache.
    let _ = sequential_rtts_us(&connector, &url, 200).await;
    let _ = quinn.rtts_us(200).await;
    let _ = wt.rtts_us(200).await;
    let _ = binary::sequential_us(home, &process_url, 200);
    let _ = lean[0].run(home, 200, 1, PAYLOAD, SERVER_CPU);
    for _ in 0..sizes.rounds {
        for (placement, bin) in placements.iter().zip(&mut bins) {
            let pid = server_process.0.id();
            binary_round(
                home,
                &process_url,
                pid,
                &lean,
                &sizes,
                measure_cost,
                *placement,
                bin,
            );
        }
        for _ in 0..SINGLE_PINGS {
            let (pong, exited) = binary::single_ping_ms(home, &process_url);
            first_pong.push(pong);
            exit.push(exited);
        }

        let mut s = sequential_rtts_us(&connector, &url, sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        ours_p50.push(percentile(&s, 50.0));
        ours_p99.push(percentile(&s, 99.0));
        let mut s = quinn.rtts_us(sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        quinn_p50.push(percentile(&s, 50.0));
        quinn_p99.push(percentile(&s, 99.0));
        let mut s = wt.rtts_us(sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        wt_p50.push(percentile(&s, 50.0));
        let mut s = udp_rtts_us(sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        udp_p50.push(percentile(&s, 50.0));

        ours_rate.push(pingpong_pipelined_per_sec(&connector, &url, sizes.pipelined_pings).await);
        quinn_rate.push(quinn.pipelined_per_sec(sizes.pipelined_pings, WINDOW).await);

        ours_setup.push(pingpong_setups_per_sec(&full_connector, &url, sizes.setups).await);
        quinn_setup.push(quinn.setups_per_sec(sizes.setups, false).await);
        wt_setup.push(wt.setups_per_sec(sizes.setups).await);
        resumed_setup.push(pingpong_setups_per_sec(&connector, &url, sizes.setups).await);
        quinn_resumed_setup.push(quinn.setups_per_sec(sizes.setups, true).await);
    }

    println!();
    println!(
        "pingpong loopback benchmark: median of {} rounds, {} cores",
        sizes.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<46} {:>15} {:>26} {:>7}  target",
        "", "pingpong", "baseline", "ratio"
    );
    for (placement, bin) in placements.iter().zip(&bins) {
        print_binary(*placement, bin);
    }
    println!(
        "{:<46} {:>10.1} ms to its pong, {:.1} ms from pong to exit (target <= 15 ms), median of {}",
        "(d) binary: client -c 1",
        median(first_pong.clone()),
        median(exit.clone()),
        first_pong.len()
    );
    println!();
    println!("library in one process; baselines in the same two-worker runtime, with pingpong's keep-alive timers:");
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "quinn",
        median(quinn_p50.clone()),
        "us",
        "(context)",
    );
    row(
        "(a) sequential RTT p99",
        median(ours_p99),
        "quinn",
        median(quinn_p99),
        "us",
        "(context)",
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "wt",
        median(wt_p50.clone()),
        "us",
        "(context: bare WebTransport echo)",
    );
    row(
        "(a) WebTransport echo RTT p50",
        median(wt_p50),
        "quinn",
        median(quinn_p50),
        "us",
        "(context: what wtransport adds)",
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50),
        "udp",
        median(udp_p50),
        "us",
        "(context)",
    );
    row(
        "(b) pipelined pings, 64 in flight",
        median(ours_rate),
        "quinn",
        median(quinn_rate),
        "/s",
        "(context)",
    );
    ratio_row(
        "(c) mTLS session setups, full",
        &ours_setup,
        "quinn",
        &quinn_setup,
        "/s",
        "(context)",
    );
    ratio_row(
        "(c) bare WebTransport setups",
        &wt_setup,
        "quinn",
        &quinn_setup,
        "/s",
        "(context: what HTTP/3 and CONNECT cost)",
    );
    ratio_row(
        "(c) mTLS session setups, full",
        &ours_setup,
        "wt",
        &wt_setup,
        "/s",
        ">= 0.95x (bare WebTransport + 1 echo)",
    );
    row(
        "(c) mTLS session setups, resumed",
        median(resumed_setup.clone()),
        "quinn",
        median(quinn_resumed_setup),
        "/s",
        "(quinn resuming too)",
    );
    row(
        "(c) setups: resumed vs full",
        median(resumed_setup),
        "full",
        median(ours_setup),
        "/s",
        "(what a ticket saves)",
    );

    shutdown.cancel();
    let _ = server_task.await;
}
