//! mDNS traffic at scale (issue 33): servers and watchers on one bridge, each
//! host its own namespace and host name; the UDP 5353 packets entering the
//! bridge are counted (nftables, bridge prerouting: a multicast frame counts
//! once, however many ports it is flooded to).
//!
//! For each shape (servers / watchers: 20/5, 40/10, 80/20; `PINGPONG_BENCH_QUICK`:
//! 20/5 and 40/10) and each stack, in the same run:
//! - **pingpong**: `pingpong server` per server host, `pingpong discover
//!   --watch` per watcher host;
//! - **python-zeroconf**: one registered service per server host, one
//!   `ServiceBrowser` per watcher host. Its browsers do not keep addresses
//!   fresh, so it is a floor, not a like-for-like.
//!
//! Printed: packets/s during warm-up (the first `WARM_UP`), and at steady
//! state (the `STEADY` after it: longer than one refresh cycle of the 120 s
//! records), in all and per server. Target (pingpong, 40/10): steady state ≤
//! 2 packets/s, growing with servers, not with servers × watchers.
//!
//! Needs root (namespaces). `cargo bench --bench mdns_traffic`; set
//! `PINGPONG_BENCH_SHAPES=40x10,80x20` to choose shapes, and
//! `PINGPONG_BENCH_STACKS=pingpong` (or `python-zeroconf`) for one stack,
//! `PINGPONG_BENCH_STEADY_SECS` for a shorter steady window, and
//! `PINGPONG_BENCH_VERBOSE=1` to see what the prober and each watcher that
//! kept the killed server said about it.

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::peers::{interop_script, python};
use common::*;

/// Announcements, probing and the browses' first queries (1, 2, 4, 8, 16 s
/// apart) happen in this time.
const WARM_UP: Duration = Duration::from_secs(60);
/// Longer than one refresh cycle: records of 120 s are refreshed at 80 % of
/// their TTL, 96 s.
const STEADY: Duration = Duration::from_secs(240);

/// [`STEADY`], or `PINGPONG_BENCH_STEADY_SECS` (a short run for a look at the
/// kill check, whose figure then says little about refreshes).
fn steady_for() -> Duration {
    std::env::var("PINGPONG_BENCH_STEADY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(STEADY, Duration::from_secs)
}

#[derive(Clone, Copy, PartialEq)]
enum Stack {
    Pingpong,
    Zeroconf,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Pingpong => "pingpong",
            Stack::Zeroconf => "python-zeroconf",
        }
    }
}

/// Processes that end when dropped.
struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            child.kill().ok();
        }
        for child in &mut self.0 {
            child.wait().ok();
        }
    }
}

/// UDP 5353 packets that entered the bridge so far.
fn counted(lan: &Lan) -> u64 {
    let out = lan
        .bridge
        .command("nft")
        .args(["list", "table", "bridge", "mdnscount"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {text}"))
}

fn start_counting(lan: &Lan) {
    lan.nft("table bridge mdnscount {\n  chain pre {\n    type filter hook prerouting priority 0; policy accept;\n    meta l4proto udp th dport 5353 counter\n  }\n}\n");
}

/// Starts the shape's servers and watchers of `stack`; returns them running.
fn start(
    lan: &Lan,
    stack: Stack,
    servers: usize,
    watchers: usize,
    home: &std::path::Path,
) -> Running {
    let mut children = Vec::new();
    for i in 0..servers {
        let host = format!("srv{i}");
        let child = match stack {
            Stack::Pingpong => on_host(&lan.hosts[i], &host, home)
                .args(["server", "--listen", "[::]:0", "--mdns-interface", "eth0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            Stack::Zeroconf => {
                on_host_running(&lan.hosts[i], &host, home, python().to_str().unwrap())
                    .args([
                        &interop_script("zeroconf_register.py"),
                        "_pingpong._udp.local.",
                        &host,
                        "4433",
                        &format!("10.77.0.{}", i + 1),
                        "v=1",
                    ])
                    .env("PEER_HOST", &host)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            }
        };
        children.push(child);
    }
    for w in 0..watchers {
        let i = servers + w;
        let host = format!("watch{w}");
        let child = match stack {
            Stack::Pingpong => on_host(&lan.hosts[i], &host, home)
                .args(["discover", "--watch", "--json", "--mdns-interface", "eth0"])
                .stdout(std::fs::File::create(home.join(format!("{host}.events"))).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            Stack::Zeroconf => {
                on_host_running(&lan.hosts[i], &host, home, python().to_str().unwrap())
                    .args([
                        &interop_script("zeroconf_watch.py"),
                        "_pingpong._udp.local.",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            }
        };
        children.push(child);
    }
    Running(children)
}

fn measure(stack: Stack, servers: usize, watchers: usize) {
    let lan = Lan::new(servers + watchers);
    let dir = tempfile::tempdir().unwrap();
    lan_pki(dir.path(), &["srv"]);
    let home = dir.path().join("srv");
    start_counting(&lan);
    let begun = Instant::now();
    let running = start(&lan, stack, servers, watchers, &home);
    std::thread::sleep(WARM_UP.saturating_sub(begun.elapsed()));
    let warm = counted(&lan);
    let steady_from = Instant::now();
    std::thread::sleep(steady_for());
    let steady = counted(&lan) - warm;
    let steady_secs = steady_from.elapsed().as_secs_f64();
    let listed = (stack == Stack::Pingpong).then(|| listed_by_watchers(&home, watchers));
    let kill =
        (stack == Stack::Pingpong).then(|| kill_at_scale(&lan, &running, &home, servers, watchers));
    drop(running);
    let warm_rate = warm as f64 / WARM_UP.as_secs_f64();
    let steady_rate = steady as f64 / steady_secs;
    println!(
        "  {:<16} {servers:>3} servers / {watchers:>2} watchers   warm-up {warm_rate:6.2} pkt/s   steady {steady_rate:5.2} pkt/s ({:.3} per server)",
        stack.name(),
        steady_rate / servers as f64
    );
    if let Some(listed) = listed {
        println!(
            "  {:<16} servers each watcher listed at the end: {listed:?}",
            ""
        );
    }
    if let Some(kill) = kill {
        println!("  {:<16} {kill}", "");
    }
}

/// How many servers each pingpong watcher listed when it was stopped (from
/// its `--watch --json` events), to show the figures are of a working LAN.
fn listed_by_watchers(home: &std::path::Path, watchers: usize) -> Vec<usize> {
    (0..watchers)
        .map(|w| {
            let text =
                std::fs::read_to_string(home.join(format!("watch{w}.events"))).unwrap_or_default();
            let mut listed = std::collections::HashSet::new();
            for line in text.lines() {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let name = event["instance"].as_str().unwrap_or_default().to_string();
                match event["event"].as_str() {
                    Some("removed") => {
                        listed.remove(&name);
                    }
                    Some("added") => {
                        listed.insert(name);
                    }
                    _ => {}
                }
            }
            listed.len()
        })
        .collect()
}

fn main() {
    let stacks: Vec<Stack> = match std::env::var("PINGPONG_BENCH_STACKS").as_deref() {
        Ok("pingpong") => vec![Stack::Pingpong],
        Ok("python-zeroconf") => vec![Stack::Zeroconf],
        _ => vec![Stack::Pingpong, Stack::Zeroconf],
    };
    let shapes: Vec<(usize, usize)> = match std::env::var("PINGPONG_BENCH_SHAPES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                let (a, b) = s.split_once('x').expect("shapes look like 40x10");
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect(),
        Err(_) if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() => vec![(20, 5), (40, 10)],
        Err(_) => vec![(20, 5), (40, 10), (80, 20)],
    };
    println!(
        "UDP 5353 packets entering the bridge: warm-up = first {} s, steady = the {} s after",
        WARM_UP.as_secs(),
        steady_for().as_secs()
    );
    for (servers, watchers) in shapes {
        for &stack in &stacks {
            measure(stack, servers, watchers);
        }
    }
}

/// Seconds since midnight of a `HH:MM:SS.mmm` time of a `--json` event.
fn seconds_of(time: &str) -> f64 {
    time.split(':')
        .map(|part| part.parse::<f64>().unwrap_or(0.0))
        .fold(0.0, |total, part| total * 60.0 + part)
}

/// At this traffic, a dead server still leaves every view soon after a
/// failed attempt (issue 33, item 1): a prober on the first watcher's host
/// probes every second, server 0 is SIGKILLed, and the watchers' events say
/// when (and why) each dropped it.
fn kill_at_scale(
    lan: &Lan,
    running: &Running,
    home: &std::path::Path,
    servers: usize,
    watchers: usize,
) -> String {
    let mut prober = on_host(&lan.hosts[servers], "watch0", home)
        .args([
            "discover",
            "--watch",
            "--json",
            "--probe",
            "--probe-interval",
            "1",
            "--mdns-interface",
            "eth0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(prober.stdout.take().unwrap()))
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok());
    let listed = lines
        .by_ref()
        .any(|e| e["event"] == "added" && e["instance"] == "srv0");
    assert!(listed, "the prober never listed srv0");
    // SAFETY: kill(2) on a child of ours.
    unsafe { libc::kill(running.0[0].id() as i32, libc::SIGKILL) };
    let failed = lines
        .find(|e| e["event"] == "probe" && e["instance"] == "srv0" && e["probe"]["ok"] == false)
        .map(|e| seconds_of(e["time"].as_str().unwrap_or_default()))
        .expect("a failed probe of srv0");
    let verbose = std::env::var_os("PINGPONG_BENCH_VERBOSE").is_some();
    let deadline = Instant::now() + Duration::from_secs(10);
    if verbose {
        // The prober's own view of srv0 after the failure, as it comes.
        for event in lines.by_ref() {
            if event["instance"] == "srv0" {
                eprintln!("prober: {event}");
            }
            if Instant::now() > deadline {
                break;
            }
        }
    }
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    prober.kill().ok();
    prober.wait().ok();
    let mut after = Vec::new();
    let mut reasons = std::collections::BTreeSet::new();
    for w in 0..watchers {
        let text =
            std::fs::read_to_string(home.join(format!("watch{w}.events"))).unwrap_or_default();
        let removed = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "removed" && e["instance"] == "srv0");
        match removed {
            Some(e) => {
                after.push(seconds_of(e["time"].as_str().unwrap_or_default()) - failed);
                reasons.insert(e["reason"].as_str().unwrap_or("?").to_string());
            }
            None if std::env::var_os("PINGPONG_BENCH_VERBOSE").is_some() => {
                let srv0: Vec<&str> = text.lines().filter(|l| l.contains("\"srv0\"")).collect();
                eprintln!(
                    "watch{w} kept srv0 (failed probe at {failed:.3} s of the day): {srv0:#?}"
                );
            }
            None => {}
        }
    }
    after.sort_by(f64::total_cmp);
    format!(
        "SIGKILL of srv0 at this traffic: dropped by {} of {watchers} watchers within 10 s of the failed probe ({:.1}-{:.1} s, {reasons:?})",
        after.len(),
        after.first().copied().unwrap_or(f64::NAN),
        after.last().copied().unwrap_or(f64::NAN),
    )
}
