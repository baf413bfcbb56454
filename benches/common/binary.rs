//! The `pingpong` binary as users run it: a `pingpong server` process and
//! `pingpong client` processes against it, measured by the client's own
//! summary (`-q --json`) or by the clock around the process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::process::{self, Server};

/// The release binary cargo built for this benchmark.
const BINARY: &str = env!("CARGO_BIN_EXE_pingpong");
/// Worker threads of the binary's runtime: as many as the benchmark's own and
/// the raw quinn processes' (`#[tokio::main(worker_threads = 2)]`), whatever
/// the machine's core count.
const WORKER_THREADS: &str = "2";

/// `pingpong server --no-mdns --listen 127.0.0.1:0` with the certificates of
/// `home`; its URL.
pub fn start_server(home: &Path) -> (Server, String) {
    let (server, port) = process::spawn_server(
        Command::new(BINARY)
            .args(["server", "--no-mdns", "--listen", "127.0.0.1:0"])
            .env("TOKIO_WORKER_THREADS", WORKER_THREADS),
        home,
    );
    (server, format!("https://127.0.0.1:{port}/pingpong"))
}

fn client(home: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("client")
        .arg(url)
        .args(args)
        .env("PINGPONG_HOME", home)
        .env("TOKIO_WORKER_THREADS", WORKER_THREADS)
        .stderr(Stdio::inherit());
    command
}

/// Runs `pingpong client URL ARGS -q --json`; its summary object, after
/// checking that every ping was answered.
fn summary(home: &Path, url: &str, args: &[&str]) -> Value {
    let out = client(home, url, args)
        .args(["-q", "--json"])
        .output()
        .unwrap();
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{last:?}: {e}"));
    assert!(
        out.status.success() && summary["lost"] == 0,
        "pingpong client {args:?}: {last}"
    );
    summary
}

/// `-c COUNT -i 0 --in-flight 1`: RTT p50 and p99 in µs, from the client's
/// summary.
pub fn sequential_us(home: &Path, url: &str, count: u64) -> (f64, f64) {
    let count = count.to_string();
    let summary = summary(home, url, &["-c", &count, "-i", "0", "--in-flight", "1"]);
    let rtt = &summary["rtt_ms"];
    (
        rtt["p50"].as_f64().unwrap() * 1e3,
        rtt["p99"].as_f64().unwrap() * 1e3,
    )
}

/// `-c COUNT -i 0` (64 in flight): pongs per second over the run the client
/// timed.
pub fn pipelined_per_sec(home: &Path, url: &str, count: u64) -> f64 {
    let count_text = count.to_string();
    let summary = summary(home, url, &["-c", &count_text, "-i", "0"]);
    count as f64 / (summary["elapsed_ms"].as_f64().unwrap() / 1e3)
}

/// `pingpong client URL -c 1 --json` from the outside: milliseconds from the
/// start of the process to its pong line, and from that line to its exit.
pub fn single_ping_ms(home: &Path, url: &str) -> (f64, f64) {
    let started = Instant::now();
    let mut child = client(home, url, &["-c", "1", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let pong = loop {
        let line = lines
            .next()
            .expect("the client ended before its pong")
            .unwrap();
        if line.contains("\"event\":\"pong\"") {
            break started.elapsed();
        }
    };
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
    let exited = started.elapsed();
    (
        pong.as_secs_f64() * 1e3,
        (exited - pong).as_secs_f64() * 1e3,
    )
}
