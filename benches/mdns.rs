//! mDNS discovery timings, pingpong next to avahi measured in the same run:
//!
//! 1. register → resolved: a server starts while a browser runs;
//! 2. browse → first candidate: a browser starts while the server is up;
//! 3. (pingpong only) client time to first pong, no address given, server up;
//! 4. unregister → removed: the server stops (mDNS goodbye) while a browser runs;
//! 5. client start → first pong, 50 starts after random gaps of 0 to 1.5 s (so
//!    some come within a second of the previous one, when responders may not
//!    multicast again), against the Rust server and the Python server
//!    (python-zeroconf answering), next to `avahi-browse -rpt` resolving the
//!    same service in the same run: p50, p99 and max. Target: p99 < 150 ms.
//!
//! 6. client start → first pong over mDNS while browse domains are learnt
//!    from DNS (RFC 6763 §11), next to the same client with learning off:
//!    against a DNS server without browse records (BIND), and against one
//!    that never answers. Target: no slower than with learning off.
//!
//! Everything runs inside a network namespace the benchmark creates (root
//! needed), with a veth link for avahi, which ignores loopback. Times include
//! process start-up. Medians of several rounds; `PINGPONG_BENCH_QUICK=1` for
//! fewer. Run with `cargo bench --bench mdns`.

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "../tests/common/named.rs"]
#[allow(dead_code)] // the tests use the rest
mod named;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");
/// Longest any single step may take before the benchmark gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// RFC 6762 §6: a responder multicasts a record at most once a second per
/// interface, so a query within a second of the last answer waits for the
/// querier's retry (~1 s). Steady state, "the server is already up", means no
/// answer went out in the last second: each step after the first waits this long.
const RATE_LIMIT_GAP: Duration = Duration::from_millis(1100);
/// Time given to a freshly started browser to send its first query before the
/// measured event: this is a benchmark, not a test, and the browser has no
/// readiness signal.
const BROWSER_SETTLE: Duration = Duration::from_millis(300);

struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = format!("pp-bench-{}", std::process::id());
        let ns = Netns(name);
        sh(&format!(
            "ip netns add {n} && ip -n {n} link set lo up && ip -n {n} link set lo multicast on \
             && ip -n {n} link add pp0 type veth peer name pp1 && ip -n {n} addr add 10.99.0.1/24 dev pp0 \
             && ip -n {n} link set pp0 multicast on up && ip -n {n} link set pp1 up",
            n = ns.0
        ));
        ns
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(script: &str) {
    let status = Command::new("sh")
        .args(["-c", script])
        .status()
        .expect("sh");
    assert!(
        status.success(),
        "failed (the mDNS benchmark needs root): {script}"
    );
}

/// A child whose stdout (or stderr) lines arrive on a channel.
struct Watched {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watched {
    fn spawn(mut command: Command, stderr: bool) -> Self {
        command.stdin(Stdio::null());
        if stderr {
            command.stdout(Stdio::null()).stderr(Stdio::piped());
        } else {
            command.stdout(Stdio::piped()).stderr(Stdio::null());
        }
        let mut child = command.spawn().expect("spawn");
        let (tx, rx) = mpsc::channel();
        let out: Box<dyn std::io::Read + Send> = if stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched { child, lines: rx }
    }

    /// Waits for a line matching `pred`; returns when it arrived.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> Instant {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return Instant::now(),
                Ok(_) => continue,
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Avahi {
    _dbus: Watched,
    _daemon: Watched,
    bus: String,
}

fn start_avahi(ns: &Netns, dir: &Path) -> Avahi {
    let socket = dir.join("bus");
    let conf = dir.join("dbus.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_type="method_call"/><allow send_type="signal"/>
<allow send_requested_reply="true" send_type="method_return"/><allow send_requested_reply="true" send_type="error"/>
<allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/></policy></busconfig>"#,
            socket.display()
        ),
    )
    .unwrap();
    let avahi_conf = dir.join("avahi.conf");
    std::fs::write(&avahi_conf, "[server]\nhost-name=avahi-peer\nallow-interfaces=pp0\nenable-dbus=yes\n[wide-area]\nenable-wide-area=no\n[publish]\npublish-hinfo=no\npublish-workstation=no\n").unwrap();
    let mut dbus = ns.command("dbus-daemon");
    dbus.args([
        "--nofork",
        "--nopidfile",
        "--print-address",
        "--config-file",
    ])
    .arg(&conf);
    let dbus = Watched::spawn(dbus, false);
    dbus.wait_for("dbus-daemon", |l| l.starts_with("unix:"));
    let bus = format!("unix:path={}", socket.display());
    let _ = std::fs::remove_file("/run/avahi-daemon/pid");
    let mut daemon = ns.command("avahi-daemon");
    daemon
        .args(["--no-drop-root", "--no-chroot", "-f"])
        .arg(&avahi_conf)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus);
    let daemon = Watched::spawn(daemon, true);
    daemon.wait_for("avahi-daemon", |l| l.contains("Server startup complete"));
    Avahi {
        _dbus: dbus,
        _daemon: daemon,
        bus,
    }
}

/// Client start → first pong, and `avahi-browse -rpt` start → the service
/// resolved, `starts` times each, interleaved, after random gaps of 0 to 1.5 s.
fn random_gap_starts(
    pp: &dyn Fn(&[&str]) -> Command,
    av: &dyn Fn(&str, &[&str]) -> Command,
    instance: &str,
    starts: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut gap = || Duration::from_millis(rng.random_range(0..=1500));
    let (mut pongs, mut resolves) = (Vec::new(), Vec::new());
    for _ in 0..starts {
        std::thread::sleep(gap());
        let started = Instant::now();
        let client = Watched::spawn(pp(&["client", "-c", "1", "--json"]), false);
        pongs.push(client.wait_for("first pong", |l| l.contains("\"event\":\"pong\"")) - started);
        drop(client);
        std::thread::sleep(gap());
        let started = Instant::now();
        let browse = Watched::spawn(av("avahi-browse", &["-rpt", "_pingpong._udp"]), false);
        let resolved = |l: &str| l.starts_with("=;") && l.contains(&format!(";{instance};"));
        resolves.push(browse.wait_for("avahi-browse -rpt", resolved) - started);
        drop(browse);
    }
    (pongs, resolves)
}

/// `p50 / p99 / max` of `v`.
fn spread(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    format!(
        "{} / {} / {}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(*v.last().unwrap())
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds = if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
        3
    } else {
        7
    };
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(
        &pingpong::tls::CertPaths::new(dir.path()),
        "bench CA",
        30,
    )
    .unwrap();
    let avahi = start_avahi(&ns, dir.path());
    let pp = |args: &[&str]| {
        let mut c = ns.command(PINGPONG);
        c.args(args).env("PINGPONG_HOME", dir.path());
        c
    };
    let av = |program: &str, args: &[&str]| {
        let mut c = ns.command(program);
        c.args(args).env("DBUS_SYSTEM_BUS_ADDRESS", &avahi.bus);
        c
    };

    let (mut pp_register, mut pp_browse, mut pp_first_pong, mut pp_goodbye) =
        (vec![], vec![], vec![], vec![]);
    let (mut av_register, mut av_browse, mut av_goodbye) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        // ---- pingpong
        let instance = format!("bench-{round}");
        let watcher = Watched::spawn(pp(&["discover", "--watch", "--json"]), false);
        std::thread::sleep(BROWSER_SETTLE);
        let started = Instant::now();
        let server = Watched::spawn(
            pp(&["server", "--listen", "[::]:0", "--instance", &instance]),
            false,
        );
        let is_added = |l: &str| {
            l.contains("\"event\":\"added\"") && l.contains(&format!("\"instance\":\"{instance}\""))
        };
        pp_register.push(watcher.wait_for("pingpong added", is_added) - started);

        std::thread::sleep(RATE_LIMIT_GAP);
        let started = Instant::now();
        let second = Watched::spawn(pp(&["discover", "--watch", "--json"]), false);
        pp_browse.push(second.wait_for("pingpong browse", is_added) - started);
        drop(second);

        std::thread::sleep(RATE_LIMIT_GAP);
        let started = Instant::now();
        let client = Watched::spawn(pp(&["client", "-c", "1", "--json"]), false);
        pp_first_pong
            .push(client.wait_for("first pong", |l| l.contains("\"event\":\"pong\"")) - started);
        drop(client);

        let started = Instant::now();
        server.signal(libc::SIGTERM);
        let is_removed = |l: &str| {
            l.contains("\"event\":\"removed\"")
                && l.contains(&format!("\"instance\":\"{instance}\""))
        };
        pp_goodbye.push(watcher.wait_for("pingpong removed", is_removed) - started);
        drop(server);
        drop(watcher);

        // ---- avahi
        let name = format!("avahi-{round}");
        let watcher = Watched::spawn(av("avahi-browse", &["-rp", "_pingpong._udp"]), false);
        std::thread::sleep(BROWSER_SETTLE);
        let resolved = |l: &str| l.starts_with("=;") && l.contains(&format!(";{name};"));
        let started = Instant::now();
        let publish = Watched::spawn(
            av(
                "avahi-publish",
                &["-s", &name, "_pingpong._udp", "5000", "v=1"],
            ),
            true,
        );
        av_register.push(watcher.wait_for("avahi resolved", resolved) - started);

        std::thread::sleep(RATE_LIMIT_GAP);
        let started = Instant::now();
        let second = Watched::spawn(av("avahi-browse", &["-rp", "_pingpong._udp"]), false);
        av_browse.push(second.wait_for("avahi browse", resolved) - started);
        drop(second);

        let started = Instant::now();
        publish.signal(libc::SIGTERM);
        av_goodbye.push(
            watcher.wait_for("avahi removed", |l| {
                l.starts_with("-;") && l.contains(&format!(";{name};"))
            }) - started,
        );
        drop(publish);
        drop(watcher);
    }

    println!();
    println!(
        "mDNS discovery, median of {rounds} rounds (process start-up included; avahi-browse asks"
    );
    println!("the running avahi-daemon, whose cache already holds the record, while pingpong's");
    println!("browser is a fresh mdns-sd daemon that queries the network)");
    println!("{:<44} {:>12} {:>12}", "", "pingpong", "avahi");
    println!(
        "{:<44} {:>12} {:>12}",
        "register -> resolved (browser running)",
        ms(median(pp_register)),
        ms(median(av_register))
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "browse -> first candidate (server up)",
        ms(median(pp_browse)),
        ms(median(av_browse))
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "client start -> first pong (target < 150)",
        ms(median(pp_first_pong)),
        "-"
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "unregister -> removed (goodbye)",
        ms(median(pp_goodbye)),
        ms(median(av_goodbye))
    );

    // ---- 5. first pong after random gaps, Rust and Python servers
    let starts = if rounds == 3 { 10 } else { 50 };
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/pingpong-server");
    let mut servers: Vec<(&str, Command)> = vec![(
        "rust",
        pp(&["server", "--listen", "[::]:0", "--instance", "gaps"]),
    )];
    if python.exists() {
        let mut command = ns.command(python.to_str().unwrap());
        command
            .args(["--listen", "[::]:0", "--instance", "gaps"])
            .env("PINGPONG_HOME", dir.path());
        servers.push(("python", command));
    } else {
        println!("(no Python server: run scripts/test first to create target/interop-venv)");
    }
    println!();
    println!("client start -> first pong over mDNS, {starts} starts after random gaps of 0-1.5 s,");
    println!("next to avahi-browse -rpt resolving the same service in the same run");
    println!(
        "{:<10} {:<34} {:<34}",
        "server", "pingpong p50 / p99 / max", "avahi-browse p50 / p99 / max"
    );
    for (name, command) in servers {
        let server = Watched::spawn(command, false);
        server.wait_for("server listening", |l| l.contains("listening on"));
        std::thread::sleep(RATE_LIMIT_GAP);
        let (pongs, resolves) = random_gap_starts(&pp, &av, "gaps", starts);
        println!("{name:<10} {:<34} {:<34}", spread(pongs), spread(resolves));
        server.signal(libc::SIGTERM);
        drop(server);
        std::thread::sleep(RATE_LIMIT_GAP);
    }

    // ---- 6. mDNS first pong while browse domains are learnt
    learning_cost(&ns, &pp, dir.path(), rounds * 2);

    // ---- 7. another service type, the first answer
    any_type_first(&pp, &av, rounds * 2);
}

/// Section 7: `discover --type _http._tcp -1` with a service avahi publishes:
/// process start to the answer printed and the process gone, next to
/// `avahi-browse -rp` (process start to its first resolved line) in the same
/// run. Target: under 100 ms.
fn any_type_first(
    pp: &dyn Fn(&[&str]) -> Command,
    av: &dyn Fn(&str, &[&str]) -> Command,
    runs: usize,
) {
    let publish = Watched::spawn(
        av(
            "avahi-publish",
            &["-s", "web", "_http._tcp", "80", "path=/"],
        ),
        true,
    );
    publish.wait_for("avahi established", |l| l.contains("Established"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        std::thread::sleep(RATE_LIMIT_GAP);
        let started = Instant::now();
        let out = pp(&["discover", "--type", "_http._tcp", "-1", "--json"])
            .output()
            .unwrap();
        ours.push(started.elapsed());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("\"instance\":\"web\""),
            "{out:?}"
        );
        std::thread::sleep(RATE_LIMIT_GAP);
        let started = Instant::now();
        let browse = Watched::spawn(av("avahi-browse", &["-rp", "_http._tcp"]), false);
        theirs.push(browse.wait_for("avahi resolved", |l| l.starts_with("=;")) - started);
        drop(browse);
    }
    drop(publish);
    println!();
    println!("another type's first answer: `discover --type _http._tcp -1` (start to exit), {runs} runs,");
    println!("next to avahi-browse -rp (start to its first resolved line) in the same run");
    println!("{:<10} {:<34} {:<34}", "", "pingpong", "avahi");
    println!(
        "{:<10} {:<34} {:<34}",
        "avahi-publish",
        spread(ours),
        spread(theirs)
    );
}

/// Section 6: client start → first pong over mDNS with browse-domain learning
/// off, on against BIND without browse records, and on against a DNS server
/// that never answers (an address nobody holds).
fn learning_cost(ns: &Netns, pp: &dyn Fn(&[&str]) -> Command, dir: &Path, runs: usize) {
    let launch = |program: &str| ns.command(program);
    let _named = named::Named::start(&launch, dir, &["10.99.0.1"]);
    let resolv_dir = Path::new("/etc/netns").join(&ns.0);
    std::fs::create_dir_all(&resolv_dir).unwrap();
    let server = Watched::spawn(
        pp(&["server", "--listen", "[::]:0", "--instance", "learning"]),
        false,
    );
    server.wait_for("server listening", |l| l.contains("listening on"));
    let cases = [
        (
            "learning off",
            "nameserver 10.99.0.1\nsearch lab.test\n",
            true,
        ),
        (
            "on, BIND without browse records",
            "nameserver 10.99.0.1\nsearch lab.test\n",
            false,
        ),
        (
            "on, DNS server never answers",
            "nameserver 10.99.0.77\nsearch lab.test\n",
            false,
        ),
    ];
    let mut medians = Vec::new();
    for (_, resolv, off) in cases {
        std::fs::write(resolv_dir.join("resolv.conf"), resolv).unwrap();
        let mut times = Vec::new();
        for _ in 0..runs {
            std::thread::sleep(RATE_LIMIT_GAP);
            let mut command = pp(&["client", "-c", "1", "--json"]);
            if off {
                command.env("PINGPONG_NO_BROWSE_DOMAINS", "1");
            }
            let started = Instant::now();
            let client = Watched::spawn(command, false);
            times.push(
                client.wait_for("first pong", |l| l.contains("\"event\":\"pong\"")) - started,
            );
        }
        medians.push(median(times));
    }
    let _ = std::fs::remove_dir_all(&resolv_dir);
    println!();
    println!(
        "client start -> first pong over mDNS while browse domains are learnt, median of {runs}"
    );
    for ((name, _, _), m) in cases.iter().zip(&medians) {
        println!(
            "{name:<44} {:>12} ({:.2}x)",
            ms(*m),
            m.as_secs_f64() / medians[0].as_secs_f64()
        );
    }
    server.signal(libc::SIGTERM);
}
