//! Loopback benchmark: pingpong next to baselines measured in the same run.
//!
//! (a) sequential ping RTT on one session, against a raw quinn bidirectional-
//!     stream echo, a bare WebTransport stream echo (what wtransport adds to
//!     quinn) and a plain UDP echo;
//! (b) pipelined pings per second with 64 in flight, against raw quinn;
//! (c) mTLS session setups per second of setup time (closes are not timed:
//!     pingpong's waits for its Goodbye to be acknowledged, the baselines'
//!     do not wait), full handshakes against a raw quinn
//!     mTLS handshake plus one stream round trip and (for context) a bare
//!     wtransport session plus one stream round trip, which shows what HTTP/3
//!     and the WebTransport CONNECT exchange cost by themselves; then resumed
//!     handshakes (TLS 1.3 tickets) against quinn resuming, and against
//!     pingpong's own full handshakes;
//! (d) the `pingpong` binary as users run it: `pingpong client` processes
//!     against a `pingpong server` process, sequential RTT next to raw quinn
//!     in the same shape (a client process and an echo server process),
//!     pipelined pings/s next to raw quinn and the library, and how soon
//!     `client -c 1` exits after its pong.
//!
//! Every figure is the median of several interleaved rounds, so that a noisy
//! neighbour hurts both sides alike. Run with `cargo bench --bench loopback`;
//! `PINGPONG_BENCH_QUICK=1` shortens every phase.

#[path = "common/baselines.rs"]
mod baselines;
#[path = "common/binary.rs"]
mod binary;
#[path = "common/echo.rs"]
mod echo;
#[path = "common/process.rs"]
mod process;
#[path = "common/quinn_processes.rs"]
mod quinn_processes;
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
    println!("{name:<34} {ours:>12.1} {unit:<8} {base_name:<6} {base:>12.1} {unit:<8} {:>6.2}x  {target}", ours / base);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if quinn_processes::play_role().await {
        return;
    }
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
    let (_server_process, process_url) = binary::start_server(dir.path());
    let (_echo_process, echo_addr) = quinn_processes::start_echo(dir.path());

    let (mut ours_p50, mut ours_p99, mut quinn_p50, mut quinn_p99, mut udp_p50) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut ours_rate, mut quinn_rate, mut ours_setup, mut quinn_setup) =
        (vec![], vec![], vec![], vec![]);
    let (mut wt_setup, mut wt_p50) = (vec![], vec![]);
    let (mut resumed_setup, mut quinn_resumed_setup) = (vec![], vec![]);
    let (mut bin_p50, mut bin_p99, mut bin_rate) = (vec![], vec![], vec![]);
    let (mut quinn_process_p50, mut quinn_process_p99) = (vec![], vec![]);
    let (mut lib_to_process_p50, mut process_to_lib_p50) = (vec![], vec![]);
    let (mut bin_first_pong, mut bin_exit) = (vec![], vec![]);
    // Warm-up: first handshakes and allocations.
    let _ = sequential_rtts_us(&connector, &url, 200).await;
    let _ = quinn.rtts_us(200).await;
    let _ = wt.rtts_us(200).await;
    for _ in 0..sizes.rounds {
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
        quinn_rate.push(quinn.pipelined_per_sec(sizes.pipelined_pings, 64).await);

        ours_setup.push(pingpong_setups_per_sec(&full_connector, &url, sizes.setups).await);
        quinn_setup.push(quinn.setups_per_sec(sizes.setups, false).await);
        wt_setup.push(wt.setups_per_sec(sizes.setups).await);
        resumed_setup.push(pingpong_setups_per_sec(&connector, &url, sizes.setups).await);
        quinn_resumed_setup.push(quinn.setups_per_sec(sizes.setups, true).await);

        let home = dir.path();
        let (p50, p99) = binary::sequential_us(home, &process_url, sizes.rtt_pings);
        bin_p50.push(p50);
        bin_p99.push(p99);
        let mut s = sequential_rtts_us(&connector, &process_url, sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        lib_to_process_p50.push(percentile(&s, 50.0));
        let (p50, _) = binary::sequential_us(home, &url, sizes.rtt_pings);
        process_to_lib_p50.push(p50);
        let (p50, p99) = quinn_processes::sequential_us(home, echo_addr, sizes.rtt_pings);
        quinn_process_p50.push(p50);
        quinn_process_p99.push(p99);
        bin_rate.push(binary::pipelined_per_sec(
            home,
            &process_url,
            sizes.pipelined_pings,
        ));
        for _ in 0..SINGLE_PINGS {
            let (pong, exit) = binary::single_ping_ms(home, &process_url);
            bin_first_pong.push(pong);
            bin_exit.push(exit);
        }
    }

    println!();
    println!(
        "pingpong loopback benchmark: median of {} rounds, {} cores",
        sizes.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<34} {:>21} {:>28} {:>7}  target",
        "", "pingpong", "baseline", "ratio"
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "quinn",
        median(quinn_p50.clone()),
        "us",
        "<= 1.10x",
    );
    row(
        "(a) sequential RTT p99",
        median(ours_p99.clone()),
        "quinn",
        median(quinn_p99.clone()),
        "us",
        "<= 1.10x",
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
        median(quinn_p50.clone()),
        "us",
        "(context: what wtransport adds)",
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "udp",
        median(udp_p50),
        "us",
        "(context)",
    );
    row(
        "(b) pipelined pings, 64 in flight",
        median(ours_rate.clone()),
        "quinn",
        median(quinn_rate.clone()),
        "/s",
        ">= 0.90x",
    );
    row(
        "(c) mTLS session setups, full",
        median(ours_setup.clone()),
        "quinn",
        median(quinn_setup),
        "/s",
        ">= 0.80x",
    );
    row(
        "(c) mTLS session setups, full",
        median(ours_setup.clone()),
        "wt",
        median(wt_setup),
        "/s",
        "(context: bare WebTransport + 1 echo)",
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
    row(
        "(d) binary: sequential RTT p50",
        median(bin_p50.clone()),
        "quinn",
        median(quinn_process_p50.clone()),
        "us",
        "<= 1.10x (quinn as two processes too)",
    );
    row(
        "(d) binary: sequential RTT p99",
        median(bin_p99),
        "quinn",
        median(quinn_process_p99),
        "us",
        "(context)",
    );
    row(
        "(d) quinn processes: RTT p50",
        median(quinn_process_p50),
        "quinn",
        median(quinn_p50.clone()),
        "us",
        "(context: two processes vs one)",
    );
    row(
        "(d) binary: sequential RTT p50",
        median(bin_p50),
        "lib",
        median(ours_p50.clone()),
        "us",
        "(binary vs library)",
    );
    row(
        "(d) library client, server process",
        median(lib_to_process_p50),
        "lib",
        median(ours_p50.clone()),
        "us",
        "(context: crosses processes, as quinn processes)",
    );
    row(
        "(d) client process, library server",
        median(process_to_lib_p50),
        "lib",
        median(ours_p50.clone()),
        "us",
        "(context: crosses processes, as quinn processes)",
    );
    row(
        "(d) binary: pipelined, 64 in flight",
        median(bin_rate.clone()),
        "quinn",
        median(quinn_rate.clone()),
        "/s",
        ">= 0.90x",
    );
    row(
        "(d) binary: pipelined, 64 in flight",
        median(bin_rate),
        "lib",
        median(ours_rate.clone()),
        "/s",
        "(binary vs library)",
    );
    println!(
        "{:<34} {:>12.1} ms to its pong, {:.1} ms from pong to exit (target <= 15 ms), median of {}",
        "(d) binary: client -c 1",
        median(bin_first_pong),
        median(bin_exit),
        SINGLE_PINGS * sizes.rounds
    );

    shutdown.cancel();
    let _ = server_task.await;
}
