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

/// `pingpong server --no-mdns --listen 127.0.0.1:0` with the certificates of
/// `home`, on CPU `cpu` if given; its URL.
pub fn start_server(home: &Path, cpu: Option<usize>) -> (Server, String) {
    let mut command = Command::new(BINARY);
    command.args(["server", "--no-mdns", "--listen", "127.0.0.1:0"]);
    if let Some(cpu) = cpu {
        process::pin(&mut command, cpu);
    }
    let (server, port) = process::spawn_server(&mut command, home);
    (server, format!("https://127.0.0.1:{port}/pingpong"))
}

fn client(home: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("client")
        .arg(url)
        .args(args)
        .env("PINGPONG_HOME", home)
        .stderr(Stdio::inherit());
    command
}

/// `pingpong client URL ARGS -q --json`.
fn quiet_client(home: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = client(home, url, args);
    command.args(["-q", "--json"]);
    command
}

/// The client's summary object from its output, after checking that every
/// ping was answered.
pub fn summary(out: &std::process::Output) -> Value {
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let summary: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{last:?}: {e}"));
    assert!(
        out.status.success() && summary["lost"] == 0 && summary["duplicates"] == 0,
        "pingpong client: {last}"
    );
    summary
}

/// `pingpong client URL -c COUNT -i 0 --in-flight 1 -q --json`: sequential pings.
pub fn sequential_command(home: &Path, url: &str, count: u64) -> Command {
    let count = count.to_string();
    quiet_client(home, url, &["-c", &count, "-i", "0", "--in-flight", "1"])
}

/// `pingpong client URL -c COUNT -i 0 -q --json`: 64 in flight (the default).
pub fn pipelined_command(home: &Path, url: &str, count: u64) -> Command {
    let count = count.to_string();
    quiet_client(home, url, &["-c", &count, "-i", "0"])
}

/// RTT p50 and p99 in µs, from a client's summary.
pub fn rtt_us(summary: &Value) -> (f64, f64) {
    let rtt = &summary["rtt_ms"];
    (
        rtt["p50"].as_f64().unwrap() * 1e3,
        rtt["p99"].as_f64().unwrap() * 1e3,
    )
}

/// Pongs per second over the run the client timed, from its summary.
pub fn per_sec(summary: &Value) -> f64 {
    summary["received"].as_f64().unwrap() / (summary["elapsed_ms"].as_f64().unwrap() / 1e3)
}

/// `count` sequential pings: RTT p50 and p99 in µs, from the client's summary.
pub fn sequential_us(home: &Path, url: &str, count: u64) -> (f64, f64) {
    rtt_us(&summary(
        &sequential_command(home, url, count).output().unwrap(),
    ))
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
