//! The Python server's RTT next to its floor and its sibling, in one run: the
//! Rust client pings (sequentially, one in flight) the Python server
//! (`python/`), the Rust server, and a bare aioquic WebTransport echo server
//! (`python/bench/echo_server.py`: same aioquic, HTTP/3 and TLS, no pingpong
//! protocol), each as its own process on loopback. The echo is driven with
//! messages of the size of a ping frame, so the three carry the same bytes.
//!
//! Target: the Python server within 1.2x of the bare aioquic echo (p50).
//! Medians of interleaved rounds. Run with `cargo bench --bench python_server`
//! after `scripts/test` has installed the venv (`PINGPONG_BENCH_QUICK=1` for a
//! short run).

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "common/echo.rs"]
mod echo;
#[path = "common/process.rs"]
mod process;
#[path = "common/rtt.rs"]
mod rtt;

use std::path::{Path, PathBuf};
use std::process::Command;

use pingpong::client::Connector;
use pingpong::tls::{client_tls_config, store, CertPaths, LeafRole, TlsMaterial};
use process::spawn_server;
use rtt::{median, percentile, sequential_rtts_us};

/// A ping frame with the default 56-byte payload: length, tag, seq, payload
/// length and payload (the pong is the same size).
const MESSAGE: usize = 1 + 1 + 1 + 1 + 56;

/// `https://127.0.0.1:PORT<path>`.
fn url(port: u16, path: &str) -> String {
    format!("https://127.0.0.1:{port}{path}")
}

fn venv_bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/interop-venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test first (it creates the venv with the Python server)",
        path.display()
    );
    path
}

/// (p50, p99) in µs of `count` sequential pings on one session.
async fn pingpong_rtts(connector: &Connector, url: &str, count: u64) -> (f64, f64) {
    let mut rtts = sequential_rtts_us(connector, url, count).await;
    rtts.sort_by(f64::total_cmp);
    (percentile(&rtts, 50.0), percentile(&rtts, 99.0))
}

/// (p50, p99) in µs of `count` sequential echoes of a ping-sized message.
async fn echo_rtts(
    client: &wtransport::Endpoint<wtransport::endpoint::endpoint_side::Client>,
    url: &str,
    count: u64,
) -> (f64, f64) {
    let connection = client.connect(url).await.expect("echo session setup");
    let (send, recv) = connection.open_bi().await.unwrap().await.unwrap();
    let mut rtts = echo::timed_echoes(send, recv, MESSAGE, count).await;
    connection.close(0u32.into(), b"");
    rtts.sort_by(f64::total_cmp);
    (percentile(&rtts, 50.0), percentile(&rtts, 99.0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let quick = std::env::var_os("PINGPONG_BENCH_QUICK").is_some();
    let (rounds, count) = if quick { (3, 500) } else { (5, 3_000) };
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "bench CA", 30).unwrap();
    let server_files = |command: &mut Command| {
        command
            .args([
                "--cert",
                &paths.leaf_cert(LeafRole::Server).display().to_string(),
            ])
            .args([
                "--key",
                &paths.leaf_key(LeafRole::Server).display().to_string(),
            ])
            .args(["--ca", &paths.ca_cert().display().to_string()]);
    };

    let mut rust = Command::new(env!("CARGO_BIN_EXE_pingpong"));
    rust.args(["server", "--no-mdns", "--listen", "127.0.0.1:0"]);
    server_files(&mut rust);
    let (_rust, rust) = spawn_server(&mut rust, dir.path());
    let mut python = Command::new(venv_bin("pingpong-server"));
    python.args(["--no-mdns", "--listen", "127.0.0.1:0"]);
    server_files(&mut python);
    let (_python, python) = spawn_server(&mut python, dir.path());
    let mut echo = Command::new(venv_bin("python"));
    echo.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/bench/echo_server.py"))
        .arg(paths.leaf_cert(LeafRole::Server))
        .arg(paths.leaf_key(LeafRole::Server));
    let (_echo, echo) = spawn_server(&mut echo, dir.path());

    let material = TlsMaterial::from_dir(&paths, LeafRole::Client);
    let connector = Connector::new(&material, None).unwrap();
    let echo_client = wtransport::Endpoint::client(
        wtransport::ClientConfig::builder()
            .with_bind_default()
            .with_custom_tls(client_tls_config(&material, None).unwrap())
            .build(),
    )
    .unwrap();

    // Warm-up: first sessions pay for imports, caches and JIT-less Python
    // start-up paths.
    pingpong_rtts(&connector, &url(python, "/pingpong"), 200).await;
    pingpong_rtts(&connector, &url(rust, "/pingpong"), 200).await;
    echo_rtts(&echo_client, &url(echo, "/echo"), 200).await;

    let mut samples: [Vec<(f64, f64)>; 3] = Default::default();
    for _ in 0..rounds {
        samples[0].push(pingpong_rtts(&connector, &url(python, "/pingpong"), count).await);
        samples[1].push(echo_rtts(&echo_client, &url(echo, "/echo"), count).await);
        samples[2].push(pingpong_rtts(&connector, &url(rust, "/pingpong"), count).await);
    }
    let summary = |s: &Vec<(f64, f64)>| {
        (
            median(s.iter().map(|r| r.0).collect()),
            median(s.iter().map(|r| r.1).collect()),
        )
    };
    let [py, bare, rs] = [&samples[0], &samples[1], &samples[2]].map(summary);
    println!(
        "sequential RTT, {count} pings x {rounds} rounds, median of rounds ({MESSAGE}-byte frames)"
    );
    println!("{:<34} {:>10} {:>10}", "", "p50 µs", "p99 µs");
    for (name, (p50, p99)) in [
        ("python server (pingpong-server)", py),
        ("bare aioquic WebTransport echo", bare),
        ("rust server (pingpong server)", rs),
    ] {
        println!("{name:<34} {p50:>10.1} {p99:>10.1}");
    }
    println!(
        "python / bare aioquic echo: p50 {:.2}x, p99 {:.2}x (target p50 <= 1.2x)",
        py.0 / bare.0,
        py.1 / bare.1
    );
    println!(
        "python / rust server:       p50 {:.2}x, p99 {:.2}x",
        py.0 / rs.0,
        py.1 / rs.1
    );
}
