//! The README's "Client" section, run as written on a LAN the test made: two
//! server machines, web1 and web2, and a laptop on one bridge, each with its
//! own host name and `eth0`; the laptop's /etc/hosts names web1.lan and
//! web2.lan, and 10.0.0.7 is a second address of web1 (as a Service address
//! would be). Every `pingpong client` line runs on the laptop (the one that
//! names 127.0.0.1 on web1 itself), and what its comment promises is checked:
//! the count, the payload size, JSON lines, quiet and flood output, Ctrl-C's
//! summary, the name checked, IPv6 only, failing over to the other server, a
//! standby. The `discover` and `server` lines after them run too. Anything
//! else in the section fails the test, so that the README and this test
//! change together.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::http::get_in;
use common::readme::{self, assert_all_answered};
use common::routed::pki_named;
use common::*;
use serde_json::Value;

const WEB1: usize = 0;
const WEB2: usize = 1;
const LAPTOP: usize = 2;
const NAMES: [&str; 3] = ["web1", "web2", "laptop"];

/// The LAN, each machine's certificate folder, and the server each runs.
struct Site {
    lan: Lan,
    homes: Vec<PathBuf>,
    servers: [Option<ServerProcess>; 2],
    _dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let lan = Lan::new(3);
        // web1 also answers at 10.0.0.7; the laptop reaches it on the link.
        lan.hosts[WEB1].ip(&["addr", "add", "10.0.0.7/32", "dev", "eth0"]);
        lan.hosts[LAPTOP].ip(&["route", "add", "10.0.0.7/32", "dev", "eth0"]);
        let hosts = Path::new("/etc/netns").join(&lan.hosts[LAPTOP].name);
        std::fs::create_dir_all(&hosts).unwrap();
        std::fs::write(
            hosts.join("hosts"),
            "127.0.0.1 localhost\n10.77.0.1 web1.lan\n10.77.0.2 web2.lan\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let homes = pki(dir.path());
        Self {
            lan,
            homes,
            servers: [None, None],
            _dir: dir,
        }
    }

    /// `pingpong ARGS` on machine `i`.
    fn pingpong(&self, i: usize, args: &[&str]) -> Command {
        let mut command = on_host(&self.lan.hosts[i], NAMES[i], &self.homes[i]);
        command.args(args);
        command
    }

    /// Starts `pingpong ARGS` (a server line) on machine `i`, replacing what ran there.
    fn serve(&mut self, i: usize, args: &[&str]) {
        if let Some(old) = self.servers[i].take() {
            stop(old);
        }
        self.servers[i] = Some(ServerProcess::spawn(self.pingpong(i, args)));
    }

    fn server(&self, i: usize) -> &ServerProcess {
        self.servers[i].as_ref().unwrap()
    }

    /// A line as written on machine `i`, which must exit 0; its stdout.
    fn succeeds(&self, i: usize, words: &[&str]) -> String {
        readme::succeeds(&words.join(" "), self.pingpong(i, words))
    }
}

/// One CA; web1's server certificate carries every name the section uses for
/// it, web2's its own; each machine has a client certificate.
fn pki(dir: &Path) -> Vec<PathBuf> {
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    pki_named(
        dir,
        &[
            (
                NAMES[WEB1],
                names(&[
                    "web1.lan",
                    "web1.local",
                    "localhost",
                    "127.0.0.1",
                    "pingpong.default.svc",
                ]),
            ),
            (NAMES[WEB2], names(&["web2.lan", "web2.local"])),
            (NAMES[LAPTOP], names(&["laptop.local"])),
        ],
    )
}

/// `args` with `-i SECONDS` added. The README's lines ping once a second, the
/// default; `client 127.0.0.1:4433` runs at it, and every other line, whose
/// flags the README parse check has already accepted as written, runs with a
/// shorter interval that still gives what it checks time to happen (a
/// failover, a standby being opened).
fn every<'a>(args: &[&'a str], seconds: &'a str) -> Vec<&'a str> {
    let mut args = args.to_vec();
    args.extend(["-i", seconds]);
    args
}

/// SIGTERM, and the clean exit the README promises (which frees port 4433).
fn stop(mut server: ServerProcess) {
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", server.logs());
}

/// A running text-mode client whose stdout is read line by line.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads until a line contains `needle`.
    fn until(&mut self, needle: &str) {
        while !self.seen.last().is_some_and(|l| l.contains(needle)) {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line with {needle:?} after {:?}", self.seen));
            self.seen.push(line);
        }
    }

    /// Sends `signal`, reads the rest; returns the exit code and every line.
    fn finish(mut self, signal: Option<i32>) -> (Option<i32>, String) {
        if let Some(signal) = signal {
            send_signal(&self.child, signal);
        }
        let status = wait_timeout::ChildExt::wait_timeout(&mut self.child, Duration::from_secs(30))
            .unwrap()
            .expect("the client did not exit");
        self.seen.extend(self.lines.iter());
        (status.code(), self.seen.join("\n"))
    }
}

#[test]
fn the_client_section_runs_as_written() {
    let mut site = Site::new();
    site.serve(WEB1, &["server"]);
    site.serve(WEB2, &["server"]);
    let lines = readme::commands("Client");
    let mut ran = 0;
    for command in &lines {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "pingpong", "README line `{command}`");
        let args = &words[1..];
        match args {
            ["client", "127.0.0.1:4433"] => {
                // On web1, which serves on port 4433.
                let stdout = site.succeeds(WEB1, args);
                assert!(
                    stdout.starts_with("PINGPONG https://127.0.0.1:4433/pingpong (127.0.0.1:4433)"),
                    "`{command}`: {stdout}"
                );
                assert_all_answered(command, &stdout, 10);
            }
            ["client", url, "-c", "0"] => {
                assert_eq!(*url, "https://web1.lan:4433/pingpong");
                let mut client = Running::spawn(site.pingpong(LAPTOP, &every(args, "0.2")));
                client.until("seq=3 ");
                let (code, stdout) = client.finish(Some(libc::SIGINT));
                assert_eq!(code, Some(0), "`{command}`: {stdout}");
                assert!(
                    stdout.contains("--- https://web1.lan:4433/pingpong pingpong statistics ---")
                        && stdout.contains("received, 0% loss"),
                    "Ctrl-C printed no summary for `{command}`: {stdout}"
                );
            }
            ["client", "web1.lan", "-c", "1000", "-i", "0", "-s", "1200"] => {
                let stdout = site.succeeds(LAPTOP, args);
                assert!(stdout.contains("1200 bytes from 10.77.0.1:4433: seq=1000 "));
                assert_all_answered(command, &stdout, 1000);
            }
            ["client", "web1.lan", "--json"] => {
                let stdout = site.succeeds(LAPTOP, &every(args, "0.02"));
                let objects: Vec<Value> = stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                    .collect();
                let pongs = objects.iter().filter(|o| o["event"] == "pong").count();
                assert_eq!(pongs, 10, "`{command}`: {stdout}");
                let summary = objects.last().unwrap();
                assert_eq!(summary["event"], "summary", "`{command}`: {stdout}");
                assert_eq!(summary["received"], 10, "`{command}`: {stdout}");
            }
            ["client", "web1.lan", "-c", "100", "-q"] => {
                let stdout = site.succeeds(LAPTOP, &every(args, "0.02"));
                assert!(!stdout.contains("bytes from"), "`{command}`: {stdout}");
                assert!(stdout.starts_with("PINGPONG "), "`{command}`: {stdout}");
                assert_all_answered(command, &stdout, 100);
            }
            ["client", "web1.lan", "-c", "100000", "-f"] => {
                let stdout = site.succeeds(LAPTOP, args);
                assert!(!stdout.contains("bytes from"), "`{command}`: {stdout}");
                // Every dot was taken back by a backspace: nothing was lost.
                let dots = stdout.matches('.').count();
                let backspaces = stdout.matches('\u{8}').count();
                assert_eq!(backspaces, 100_000, "`{command}`");
                assert!(dots >= 100_000, "`{command}`: {dots} dots");
                assert_all_answered(command, &stdout, 100_000);
            }
            ["client", "10.0.0.7", "--server-name", name] => {
                assert_eq!(*name, "pingpong.default.svc");
                let stdout = site.succeeds(LAPTOP, &every(args, "0.02"));
                assert!(
                    stdout.starts_with("PINGPONG https://10.0.0.7:4433/pingpong (10.0.0.7:4433)"),
                    "`{command}`: {stdout}"
                );
                assert!(stdout.contains("server \"web1\""), "`{command}`: {stdout}");
                assert_all_answered(command, &stdout, 10);
            }
            ["client", "-6"] => {
                let stdout = site.succeeds(LAPTOP, &every(args, "0.02"));
                let header = stdout.lines().next().unwrap();
                assert!(
                    header.contains("([fe80::") && header.contains("via mdns"),
                    "`{command}` did not use a discovered IPv6 address: {header}"
                );
                assert_all_answered(command, &stdout, 10);
            }
            ["client", "web1.lan", "web2.lan"] => {
                // The server it chose drains mid-run: the client goes on with
                // the other one, nothing lost.
                let mut client = Running::spawn(site.pingpong(LAPTOP, &every(args, "0.3")));
                client.until("seq=3 ");
                let (first, other) = if client.seen[0].contains("server \"web1\"") {
                    (WEB1, WEB2)
                } else {
                    (WEB2, WEB1)
                };
                site.server(first).signal(libc::SIGTERM);
                let (code, stdout) = client.finish(None);
                assert_eq!(code, Some(0), "`{command}`: {stdout}");
                let moved = format!("bytes from 10.77.0.{}:4433", other + 1);
                assert!(
                    stdout.contains(&moved),
                    "`{command}` did not fail over to {}: {stdout}",
                    NAMES[other]
                );
                assert!(stdout.contains("1 failovers"), "`{command}`: {stdout}");
                assert_all_answered(command, &stdout, 10);
                site.serve(first, &["server"]);
            }
            ["client", "--standby", "1"] => {
                let closed = |i: usize| site.server(i).logs().matches("closed by client").count();
                let before = [closed(WEB1), closed(WEB2)];
                let stdout = site.succeeds(LAPTOP, &every(args, "0.3"));
                assert_all_answered(command, &stdout, 10);
                // The standby is a session to the other server, held idle
                // and closed at the end.
                let other = if stdout.contains("server \"web1\"") {
                    WEB2
                } else {
                    WEB1
                };
                site.server(other).wait_for_log_count(
                    "closed by client",
                    before[other] + 1,
                    Duration::from_secs(5),
                );
            }
            ["discover", "--probe"] => {
                let stdout = site.succeeds(LAPTOP, args);
                for name in ["web1", "web2"] {
                    let row = stdout
                        .lines()
                        .find(|l| l.starts_with(name))
                        .unwrap_or_else(|| panic!("`{command}` misses {name}: {stdout}"));
                    assert!(row.contains(" ms"), "`{command}`: no handshake time: {row}");
                }
            }
            ["server", "--drain-timeout", "10"] => {
                // On both machines; the one the client chose drains.
                site.serve(WEB1, args);
                site.serve(WEB2, args);
                let mut client = Running::spawn(site.pingpong(
                    LAPTOP,
                    &["client", "web1.lan", "web2.lan", "-c", "0", "-i", "0.1"],
                ));
                client.until("seq=3 ");
                let (first, other) = if client.seen[0].contains("server \"web1\"") {
                    (WEB1, WEB2)
                } else {
                    (WEB2, WEB1)
                };
                let mut chosen = site.servers[first].take().unwrap();
                chosen.signal(libc::SIGTERM);
                // The session is told to move, so the drain ends well before 10 s.
                assert_eq!(chosen.wait_exit(Duration::from_secs(10)).code(), Some(0));
                assert!(chosen.logs().contains("draining"), "{}", chosen.logs());
                client.until(&format!("bytes from 10.77.0.{}:4433", other + 1));
                let (code, stdout) = client.finish(Some(libc::SIGINT));
                assert_eq!(code, Some(0), "`{command}`: {stdout}");
                assert!(stdout.contains("received, 0% loss"), "{stdout}");
                site.serve(first, &["server"]);
            }
            ["server", "--metrics", "0.0.0.0:9090"] => {
                site.serve(WEB1, args);
                let laptop = &site.lan.hosts[LAPTOP];
                assert_eq!(get_in(laptop, "http://10.77.0.1:9090/healthz").trim(), "ok");
                assert_eq!(
                    get_in(laptop, "http://10.77.0.1:9090/readyz").trim(),
                    "ready"
                );
                let metrics = get_in(laptop, "http://10.77.0.1:9090/metrics");
                assert!(
                    metrics.contains("pingpong_sessions_max 10000"),
                    "`{command}`: {metrics}"
                );
            }
            ["server", "--max-sessions", "5000"] => {
                site.serve(WEB1, args);
                let stdout = site.succeeds(LAPTOP, &["client", "web1.lan", "-c", "1"]);
                assert_all_answered(command, &stdout, 1);
            }
            _ => panic!("README line `{command}`: this test does not know it"),
        }
        ran += 1;
    }
    assert_eq!(ran, lines.len());
    assert!(ran >= 14, "{lines:?}");
    for server in site.servers.iter_mut().filter_map(Option::take) {
        stop(server);
    }
}
