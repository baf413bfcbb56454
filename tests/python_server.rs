//! The Python server (`python/`) driven by the Rust client, as a real process:
//! mTLS ping-pong, the rejection matrix, resume after a dropped connection,
//! SIGTERM drain, and `pingpong discover` listing it exactly like a Rust server.
//! `scripts/test` installs the package into `target/interop-venv`; the test
//! fails (it does not skip) when the `pingpong-server` script is missing.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use pingpong::tls::{CertPaths, LeafRole};
use serde_json::Value;

fn run_client(server: &ServerProcess, paths: &CertPaths, extra: &[&str]) -> std::process::Output {
    let mut args = strings(&[&server.url()]);
    args.extend(strings(extra));
    args.extend(tls_args(paths, LeafRole::Client));
    client(&args)
}

fn assert_good_client_served(server: &ServerProcess, paths: &CertPaths) {
    let out = run_client(server, paths, &["-c", "3", "-i", "0.01"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 pings transmitted, 3 received, 0% loss"),
        "{}",
        describe(&out)
    );
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn the_rust_client_ping_pongs_with_the_python_server_over_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start_python(&paths, &["--instance", "snake"]);
    // Pipelined, with payloads, then a plain run in ping(8) style.
    let out = run_client(
        &server,
        &paths,
        &["-c", "500", "-i", "0", "-s", "300", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let events = json_lines(&out.stdout);
    let connected = events.iter().find(|e| e["event"] == "connected").unwrap();
    assert_eq!(connected["instance"], "snake", "{connected}");
    assert_eq!(connected["version"], 1, "{connected}");
    let summary = events.last().unwrap();
    assert_nothing_lost(summary, 500);
    all_answered_once(Vec::new(), &events, 500);
    assert_good_client_served(&server, &paths);
    // One log line per session, naming the client by its certificate. The
    // two sessions' lines come in the order their connections end, which is
    // not the order they started: wait for the first one's own line.
    server.wait_for_log("pings=500", Duration::from_secs(5));
    let logs = server.logs();
    assert!(
        logs.contains("client=pingpong-client (SAN pingpong-client)"),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("pings=500") && l.contains("end=closed by client")),
        "{logs}"
    );
}

#[test]
fn the_python_server_refuses_bad_clients_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("good"), "good CA");
    let rogue = pki(&dir.path().join("rogue"), "rogue CA");
    let server = ServerProcess::start_python(&paths, &[]);

    // A client certificate from another CA.
    let out = client_with_files(
        &server.url(),
        &rogue.leaf_cert(LeafRole::Client),
        &rogue.leaf_key(LeafRole::Client),
        &paths.ca_cert(),
        &["-c", "1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains("not signed by a CA the server trusts (unknown CA)"),
        "{stderr}"
    );
    assert_good_client_served(&server, &paths);

    // A server certificate presented as a client certificate (no clientAuth EKU).
    let out = client_with_files(
        &server.url(),
        &paths.leaf_cert(LeafRole::Server),
        &paths.leaf_key(LeafRole::Server),
        &paths.ca_cert(),
        &["-c", "1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains("the server rejected our client certificate"),
        "{stderr}"
    );
    server.wait_for_log("no clientAuth EKU", Duration::from_secs(5));
    assert_good_client_served(&server, &paths);

    // An expired client certificate.
    let (cert, key) = extra_leaf(
        &paths,
        dir.path(),
        "old-client",
        LeafRole::Client,
        "old-client",
        &[],
        expired(),
    );
    // (The pingpong CLI refuses to send it; the library, like a foreign
    // client, does not check.)
    let material = pingpong::tls::TlsMaterial {
        cert,
        key,
        ca: paths.ca_cert(),
    };
    let error = library_client_error(&server.url(), &material);
    assert!(error.contains("it has expired"), "{error}");
    assert_good_client_served(&server, &paths);

    // No client certificate at all: rustls with the right CA and no client auth
    // (the pingpong CLI never does this; a foreign client might).
    assert_no_client_certificate_is_refused(&server, &paths);
    server.wait_for_log("no client certificate", Duration::from_secs(5));
    assert_good_client_served(&server, &paths);

    // Wrong path, and a protocol version nobody speaks.
    let out = client(
        &[
            strings(&[&server.url().replace("/pingpong", "/elsewhere"), "-c", "1"]),
            tls_args(&paths, LeafRole::Client),
        ]
        .concat(),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no pingpong service"),
        "{}",
        describe(&out)
    );
    let out = run_client(&server, &paths, &["-c", "1", "--protocol-version", "0"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("protocol version 0 is not supported; this server speaks 1..=1"),
        "{}",
        describe(&out)
    );
    assert_good_client_served(&server, &paths);
}

#[test]
fn a_client_cut_off_for_three_seconds_resumes_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start_python(&paths, &[]);
    let count = 300;
    let mut command = Command::new(bin());
    command
        .arg("client")
        .args(strings(&[
            &server.url(),
            "-c",
            &count.to_string(),
            "-i",
            "0.01",
            "--json",
        ]))
        .args(tls_args(&paths, LeafRole::Client));
    let mut client = JsonClient::spawn(command);
    client.until("connected");
    let seen = client.pong_seqs(50);
    // The server process is frozen for three seconds (the scenario itself, not a
    // wait for an event): the client's connection times out, and it comes back
    // to the same server, which still has its outbox.
    send_signal(&server.child, libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(3));
    send_signal(&server.child, libc::SIGCONT);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    assert!(summary["reconnects"].as_u64().unwrap() >= 1, "{summary}");
    all_answered_once(seen, &events, count);
    server.wait_for_log("session resumed", Duration::from_secs(5));
}

/// A Python server and a Rust server advertising in one test namespace.
struct MixedPair {
    netns: Netns,
    _dir: tempfile::TempDir,
    home: PathBuf,
    python: Option<ServerProcess>,
    rust: Option<ServerProcess>,
}

/// The pair's namespace with the Python server ("snake") started, and the
/// Rust one ("crab") too if `start_rust`.
fn mixed_pair(start_rust: bool) -> MixedPair {
    let mut pair = MixedPair::empty();
    pair.start_python();
    if start_rust {
        pair.start_rust();
    }
    pair
}

impl MixedPair {
    fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        pingpong::tls::store::init_single_host(&CertPaths::new(&home), "mixed CA", 30).unwrap();
        MixedPair {
            netns: Netns::new(),
            _dir: dir,
            home,
            python: None,
            rust: None,
        }
    }

    fn start_python(&mut self) {
        let mut command = self.netns.command(&python_server_bin());
        command
            .args(["--listen", "[::]:0", "--instance", "snake"])
            .env("PINGPONG_HOME", &self.home);
        let python = ServerProcess::spawn(command);
        python.wait_for_log(
            "advertising snake._pingpong._udp.local.",
            Duration::from_secs(10),
        );
        self.python = Some(python);
    }

    fn python(&mut self) -> &mut ServerProcess {
        self.python.as_mut().expect("the Python server was started")
    }

    fn start_rust(&mut self) {
        let env = [("PINGPONG_HOME", self.home.as_path())];
        self.rust = Some(ServerProcess::start_in(
            &self.netns,
            &strings(&["--listen", "[::]:0", "--instance", "crab"]),
            &env,
        ));
    }

    /// A client discovering the pair and pinging `count` times (JSON), that
    /// stays on its server when the other one joins (`--no-rebalance`): the
    /// tests that use it are about failover and drain, not rebalancing.
    fn staying_client(&self, count: u64) -> JsonClient {
        let mut command = self.netns.command(bin());
        command
            .args(["client", "-c", &count.to_string(), "-i", "0.01", "--json"])
            .arg("--no-rebalance")
            .env("PINGPONG_HOME", &self.home);
        JsonClient::spawn(command)
    }

    fn discover(&self, extra: &[&str]) -> Vec<Value> {
        let mut command = self.netns.command(bin());
        command
            .args(["discover", "--json", "--timeout", "3"])
            .args(extra)
            .env("PINGPONG_HOME", &self.home);
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

#[test]
fn discover_lists_the_python_server_with_the_same_fields_as_a_rust_server() {
    let pair = mixed_pair(true);
    let found = pair.discover(&["--probe"]);
    let by_instance = |name: &str| -> &Value {
        found
            .iter()
            .find(|c| c["instance"] == name)
            .unwrap_or_else(|| panic!("{name} not discovered: {found:?}"))
    };
    let (snake, crab) = (by_instance("snake"), by_instance("crab"));
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(snake), keys(crab));
    let chain =
        pingpong::tls::load::certificates(&CertPaths::new(&pair.home).leaf_cert(LeafRole::Server))
            .unwrap();
    let fingerprint = pingpong::tls::fingerprint_sha256(&chain[0]);
    for server in [snake, crab] {
        assert_eq!(server["source"], "mdns", "{server}");
        assert_eq!(server["state"], "serving", "{server}");
        assert_eq!(server["version"], 1, "{server}");
        assert_eq!(server["path"], "/pingpong", "{server}");
        assert_eq!(server["fingerprint"], fingerprint.as_str(), "{server}");
        assert_eq!(server["server_id"].as_str().unwrap().len(), 32, "{server}");
        assert_eq!(server["probe"]["ok"], true, "{server}");
        assert!(
            server["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("127.0.0.1:")),
            "{server}"
        );
    }
}

#[test]
fn sigterm_drains_the_python_servers_client_to_a_rust_server_with_nothing_lost() {
    let mut pair = mixed_pair(false);
    // Watch discovery: the draining state must be advertised before the goodbye.
    let mut watch = pair.netns.command(bin());
    watch
        .args(["discover", "--watch", "--json"])
        .env("PINGPONG_HOME", &pair.home);
    let mut watch = JsonClient::spawn(watch);
    let count = 300;
    // The drain is what is tested: the client must not move to the Rust
    // server when it joins (rebalancing), but when the Python one drains.
    let mut client = pair.staying_client(count);
    let connected = client.until("connected");
    assert_eq!(connected["instance"], "snake", "{connected}");
    pair.start_rust();
    let seen = client.pong_seqs(50);
    // The client must know the Rust server before the drain: wait until the
    // watcher has seen it too (same namespace, same records).
    loop {
        let event = watch.next();
        if event["instance"] == "crab" && event["event"] == "added" {
            break;
        }
    }
    pair.python().signal(libc::SIGTERM);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(seen, &events, count);
    let lost = events
        .iter()
        .find(|e| e["event"] == "session_lost")
        .expect("no session_lost event");
    assert!(
        lost["reason"].as_str().unwrap().contains("draining"),
        "{lost}"
    );
    let reconnected = events.iter().find(|e| e["event"] == "reconnected").unwrap();
    assert_eq!(reconnected["instance"], "crab", "{reconnected}");
    // The Python server exits 0 after the drain, having said goodbye.
    let exit = pair.python().wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}\n{}", pair.python().logs());
    let mut saw_draining = false;
    loop {
        let event = watch.next();
        if event["instance"] != "snake" {
            continue;
        }
        // Updates before the drain (an address resolved later) say serving;
        // once draining is advertised, nothing says serving again.
        if event["event"] == "updated" {
            if saw_draining {
                assert_eq!(
                    event["state"],
                    "draining",
                    "{event}\n{}",
                    pair.python().logs()
                );
            }
            saw_draining |= event["state"] == "draining";
        }
        if event["event"] == "removed" {
            break;
        }
    }
    assert!(saw_draining, "state=draining was never advertised");
    let _ = watch.child.kill();
}

/// The client pings the first server started in the pair; once it knows the
/// second one, the first is SIGKILLed: the client hedges to the second and
/// switches, every seq answered exactly once.
fn sigkill_fails_over_within_the_pair(python_first: bool) {
    let mut pair = MixedPair::empty();
    let (first, second) = if python_first {
        pair.start_python();
        ("snake", "crab")
    } else {
        pair.start_rust();
        ("crab", "snake")
    };
    let mut watch = pair.netns.command(bin());
    watch
        .args(["discover", "--watch", "--json"])
        .env("PINGPONG_HOME", &pair.home);
    let mut watch = JsonClient::spawn(watch);
    let count = 300;
    // Failover is what is tested: the client must not move to the second
    // server when it joins (rebalancing), but only when the first dies.
    let mut client = pair.staying_client(count);
    let connected = client.until("connected");
    assert_eq!(connected["instance"], first, "{connected}");
    if python_first {
        pair.start_rust();
    } else {
        pair.start_python();
    }
    let seen = client.pong_seqs(50);
    loop {
        let event = watch.next();
        if event["instance"] == second && event["event"] == "added" {
            break;
        }
    }
    let victim = if python_first {
        pair.python()
    } else {
        pair.rust.as_mut().unwrap()
    };
    victim.signal(libc::SIGKILL);
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(seen, &events, count);
    let reconnected = events.iter().find(|e| e["event"] == "reconnected").unwrap();
    assert_eq!(reconnected["instance"], second, "{reconnected}");
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["hedged"].as_u64().unwrap() >= 1, "{summary}");
    let _ = watch.child.kill();
}

#[test]
fn sigkill_of_the_python_server_is_hedged_to_a_rust_server_with_nothing_lost() {
    sigkill_fails_over_within_the_pair(true);
}

#[test]
fn sigkill_of_a_rust_server_is_hedged_to_the_python_server_with_nothing_lost() {
    sigkill_fails_over_within_the_pair(false);
}

#[test]
fn the_python_server_allow_list_admits_only_the_named_clients() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start_python(&paths, &["--allow-client", "alice"]);
    assert_allow_list_admits_only_alice(&server, &paths, dir.path());
}
