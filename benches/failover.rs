//! Failover timings, median of several runs (real processes, mDNS discovery):
//!
//! - SIGKILL of the serving server → the next pong, from the other server;
//! - SIGTERM (drain) of the serving server → the largest gap between two pongs.
//!
//! Targets: < 1 s after SIGKILL, < 100 ms gap through a drain, 0 lost in both.
//! Re-runs itself inside a network namespace it creates (root needed), so that
//! mDNS stays off the real network. `cargo bench --bench failover`.

#[path = "common/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");

fn main() {
    netns::reexec_inside();
    inside();
}

struct Server {
    child: Child,
}

impl Server {
    fn start(home: &std::path::Path, instance: &str) -> Self {
        let mut child = Command::new(PINGPONG)
            .args(["server", "--listen", "127.0.0.1:0", "--instance", instance])
            .env("PINGPONG_HOME", home)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on"), "{line}");
        Self { child }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    serde_json::from_str(&lines.next().expect("client ended").unwrap()).unwrap()
}

/// One run: returns (time from the signal to the first pong after it,
/// largest gap between consecutive pongs after the signal, summary).
fn run(home: &std::path::Path, round: usize, signal: i32) -> (Duration, Duration, Value) {
    let servers = [
        Server::start(home, &format!("a{round}")),
        Server::start(home, &format!("b{round}")),
    ];
    // Both registered: mDNS probing takes about a second. (Not a `discover`
    // here: its query would make the servers' next answers wait out RFC 6762's
    // one-second multicast rate limit, which is not what is measured.)
    std::thread::sleep(Duration::from_millis(1500));
    let mut client = Command::new(PINGPONG)
        .args(["client", "-c", "400", "-i", "0.01", "--json"])
        .env("PINGPONG_HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let serving = loop {
        let event = next(&mut lines);
        if event["event"] == "connected" {
            break event["instance"].as_str().unwrap().to_string();
        }
    };
    let mut pongs = 0;
    while pongs < 50 {
        if next(&mut lines)["event"] == "pong" {
            pongs += 1;
        }
    }
    let victim = if serving.starts_with('a') {
        &servers[0]
    } else {
        &servers[1]
    };
    let signalled = Instant::now();
    victim.signal(signal);
    let mut first_after = None;
    let mut last = signalled;
    let mut max_gap = Duration::ZERO;
    let summary = loop {
        let event = next(&mut lines);
        match event["event"].as_str() {
            Some("pong") => {
                let now = Instant::now();
                first_after.get_or_insert(now - signalled);
                max_gap = max_gap.max(now - last);
                last = now;
            }
            Some("summary") => break event,
            _ => {}
        }
    };
    client.wait().unwrap();
    (first_after.unwrap(), max_gap, summary)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn inside() {
    let rounds = if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
        3
    } else {
        5
    };
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(
        &pingpong::tls::CertPaths::new(dir.path()),
        "failover CA",
        1,
    )
    .unwrap();
    let (mut kill_times, mut kill_lost, mut drain_gaps, mut drain_lost) = (vec![], 0, vec![], 0);
    for round in 0..rounds {
        let (first, _, summary) = run(dir.path(), 2 * round, libc::SIGKILL);
        kill_times.push(first);
        kill_lost += summary["lost"].as_u64().unwrap();
        let (_, gap, summary) = run(dir.path(), 2 * round + 1, libc::SIGTERM);
        drain_gaps.push(gap);
        drain_lost += summary["lost"].as_u64().unwrap();
    }
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!();
    println!("failover, median of {rounds} runs (client pinging every 10 ms, two servers, mDNS)");
    println!(
        "{:<52} {:>10}   lost {}",
        "SIGKILL -> next pong (target < 1 s)",
        ms(median(kill_times)),
        kill_lost
    );
    println!(
        "{:<52} {:>10}   lost {}",
        "SIGTERM drain: largest gap between pongs (target < 100 ms)",
        ms(median(drain_gaps)),
        drain_lost
    );
}
