//! mDNS: servers advertise `_pingpong._udp`, clients and `discover` find them.
//! Every process here runs inside a network namespace the test creates.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A folder with a development CA shared by servers and clients of one test.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(
        &pingpong::tls::CertPaths::new(dir.path()),
        "mdns test CA",
        30,
    )
    .unwrap();
    dir
}

fn run_in(netns: &Netns, args: &[&str], home: &tempfile::TempDir) -> Output {
    netns
        .command(bin())
        .args(args)
        .env("PINGPONG_HOME", home.path())
        .output()
        .unwrap()
}

fn discover_json(netns: &Netns, home: &tempfile::TempDir) -> Vec<Value> {
    let out = run_in(netns, &["discover", "--json", "--timeout", "2"], home);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    value.as_array().unwrap().clone()
}

fn server_args(instance: &str) -> Vec<String> {
    strings(&["--instance", instance])
}

#[test]
fn discover_lists_an_advertised_server_with_its_txt() {
    let netns = Netns::new();
    let home = home();
    let server = ServerProcess::start_in(
        &netns,
        &server_args("web1"),
        &[("PINGPONG_HOME", home.path())],
    );
    let found = discover_json(&netns, &home);
    assert_eq!(found.len(), 1, "{found:?}");
    let web1 = &found[0];
    assert_eq!(web1["instance"], "web1");
    assert_eq!(web1["source"], "mdns");
    assert_eq!(web1["state"], "serving");
    assert_eq!(web1["version"], 1);
    assert_eq!(web1["path"], "/pingpong");
    assert_eq!(web1["port"], server.addr.port());
    assert_eq!(web1["server_id"].as_str().unwrap().len(), 32);
    // The advertised fingerprint is the one the server printed.
    let fp = web1["fingerprint"].as_str().unwrap();
    let cert = pingpong::tls::load::certificates(
        &pingpong::tls::CertPaths::new(home.path()).leaf_cert(pingpong::tls::LeafRole::Server),
    )
    .unwrap();
    assert_eq!(fp, pingpong::tls::fingerprint_sha256(&cert[0]));

    // The text table shows the same server.
    let out = run_in(&netns, &["discover", "--timeout", "2"], &home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("web1") && l.contains("mdns") && l.contains("serving")),
        "{stdout}"
    );
}

#[test]
fn client_with_no_address_finds_a_server_and_pings_it() {
    let netns = Netns::new();
    let home = home();
    let _server = ServerProcess::start_in(
        &netns,
        &server_args("only-one"),
        &[("PINGPONG_HOME", home.path())],
    );
    let out = run_in(&netns, &["client", "-c", "3", "-i", "0.01"], &home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .contains("via mdns: server \"only-one\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 pings transmitted, 3 received, 0% loss"),
        "{stdout}"
    );
}

#[test]
fn client_with_no_address_and_no_server_says_what_to_do() {
    let netns = Netns::new();
    let home = home();
    let started = std::time::Instant::now();
    let out = run_in(&netns, &["client", "--discover-timeout", "1"], &home);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no pingpong server found within 1s"),
        "{stderr}"
    );
    assert!(stderr.contains("pingpong client HOST[:PORT]"), "{stderr}");
    // It gives up and says so rather than waiting on: the bound is generous
    // (a loaded machine must not fail it), the message above shows the 1 s.
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// `discover --watch --json` in `netns`, its stdout and stderr piped.
fn spawn_watch(netns: &Netns, home: &std::path::Path) -> std::process::Child {
    netns
        .command(bin())
        .args(["discover", "--watch", "--json"])
        .env("PINGPONG_HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn watch_reports_arrival_and_goodbye() {
    let netns = Netns::new();
    let home = home();
    let mut watch = spawn_watch(&netns, home.path());
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut server = ServerProcess::start_in(
        &netns,
        &server_args("comes-and-goes"),
        &[("PINGPONG_HOME", home.path())],
    );
    let added: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(added["event"], "added");
    assert_eq!(added["instance"], "comes-and-goes");
    // SIGTERM: the server sends an mDNS goodbye, and the watcher sees it leave
    // well before the record's 120 s TTL (the bound is half of it: far from
    // the goodbye's second or so, so load cannot fail it).
    let stopped = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let removed = loop {
        let event: Value =
            serde_json::from_str(&lines.next().expect("watch ended").unwrap()).unwrap();
        if event["event"] == "removed" {
            break event;
        }
    };
    assert_eq!(removed["instance"], "comes-and-goes");
    assert!(
        stopped.elapsed() < Duration::from_secs(60),
        "goodbye took {:?}",
        stopped.elapsed()
    );
    send_signal(&watch, libc::SIGINT);
    watch.wait().unwrap();
}

#[test]
fn a_watch_whose_reader_goes_away_ends_quietly_by_sigpipe() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let netns = Netns::new();
    let home = home();
    let mut server = ServerProcess::start_in(
        &netns,
        &server_args("piped"),
        &[("PINGPONG_HOME", home.path())],
    );
    let mut watch = spawn_watch(&netns, home.path());
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let added: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(added["event"], "added");
    // `| head -1`: the reader goes away; the next line (the server leaving)
    // cannot be written.
    drop(lines);
    server.signal(libc::SIGTERM);
    server.wait_exit(Duration::from_secs(10));
    let status = wait_timeout::ChildExt::wait_timeout(&mut watch, Duration::from_secs(15))
        .unwrap()
        .unwrap_or_else(|| {
            let _ = watch.kill();
            panic!("discover --watch kept running after its reader went away")
        });
    let mut stderr = String::new();
    watch
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?} {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn instance_name_conflicts_get_a_unique_name() {
    let netns = Netns::new();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];
    let _a = ServerProcess::start_in(&netns, &server_args("twin"), &env);
    let _b = ServerProcess::start_in(&netns, &server_args("twin"), &env);
    let found = discover_json(&netns, &home);
    let mut names: Vec<String> = found
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 2, "{found:?}");
}

#[test]
fn no_mdns_server_is_not_advertised() {
    let netns = Netns::new();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];
    let mut args = server_args("hidden");
    args.push("--no-mdns".into());
    let _hidden = ServerProcess::start_in(&netns, &args, &env);
    // The control: an advertised server beside it is seen by the same
    // discover, so an empty result would not pass for a blind one.
    let _shown = ServerProcess::start_in(&netns, &server_args("shown"), &env);
    let instances: Vec<String> = discover_json(&netns, &home)
        .iter()
        .map(|c| c["instance"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(instances, ["shown"], "only the advertised server is listed");
}

#[test]
fn demo_finds_its_server_over_mdns_and_pings_ten_times() {
    let netns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(&netns, &["demo", "-i", "0.01"], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout.contains("over mDNS at https://"), "{stdout}");
    assert!(stdout.contains("via mdns"), "{stdout}");
    assert!(
        stdout.contains("10 pings transmitted, 10 received, 0% loss"),
        "{stdout}"
    );
    // The demo leaves the user's certificate folder alone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_rogue_advertiser_is_skipped_for_a_trusted_server() {
    let netns = Netns::new();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];
    // A rogue advertiser: a real server, but its certificate is from another CA.
    let rogue_home = tempfile::tempdir().unwrap();
    let rogue_paths = pingpong::tls::CertPaths::new(rogue_home.path());
    pingpong::tls::store::init_single_host(&rogue_paths, "rogue CA", 30).unwrap();
    let mut rogue_args = server_args("b-rogue");
    rogue_args.extend(strings(&[
        "--ca",
        &pingpong::tls::CertPaths::new(home.path())
            .ca_cert()
            .display()
            .to_string(),
    ]));
    rogue_args.extend(strings(&[
        "--cert",
        &rogue_paths
            .leaf_cert(pingpong::tls::LeafRole::Server)
            .display()
            .to_string(),
        "--key",
        &rogue_paths
            .leaf_key(pingpong::tls::LeafRole::Server)
            .display()
            .to_string(),
    ]));
    let _rogue = ServerProcess::start_in(&netns, &rogue_args, &env);
    // The client finds only the rogue at first, refuses it, and keeps looking.
    let mut client = netns
        .command(bin())
        .args([
            "client",
            "-c",
            "2",
            "-i",
            "0.01",
            "--discover-timeout",
            "20",
        ])
        .env("PINGPONG_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(client.stderr.take().unwrap()).lines();
    let skipped = stderr.next().expect("client stderr ended").unwrap();
    assert!(
        skipped.starts_with("pingpong: skipping b-rogue"),
        "{skipped}"
    );
    assert!(skipped.contains("not trusted"), "{skipped}");
    // A trusted server appears; the client takes it.
    let _good = ServerProcess::start_in(&netns, &server_args("c-good"), &env);
    let out = client.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("server \"c-good\""), "{stdout}");
    assert!(
        stdout.contains("2 pings transmitted, 2 received"),
        "{stdout}"
    );
}

#[test]
fn discover_probe_shows_the_handshake_time_or_why_a_server_is_unusable() {
    let netns = Netns::new();
    let home = home();
    let env = [("PINGPONG_HOME", home.path())];
    let _good = ServerProcess::start_in(&netns, &server_args("good"), &env);
    let rogue_home = tempfile::tempdir().unwrap();
    let rogue_paths = pingpong::tls::CertPaths::new(rogue_home.path());
    pingpong::tls::store::init_single_host(&rogue_paths, "rogue CA", 30).unwrap();
    let mut rogue_args = server_args("rogue");
    rogue_args.extend(tls_args(&rogue_paths, pingpong::tls::LeafRole::Server));
    let _rogue = ServerProcess::start_in(&netns, &rogue_args, &env);
    let out = run_in(&netns, &["discover", "--probe", "--json"], &home);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let found: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let probe = |name: &str| {
        found
            .iter()
            .find(|c| c["instance"] == name)
            .unwrap_or_else(|| panic!("{name}: {found:?}"))["probe"]
            .clone()
    };
    assert_eq!(probe("good")["ok"], true);
    assert!(probe("good")["handshake_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(probe("rogue")["ok"], false);
    assert!(
        probe("rogue")["reason"]
            .as_str()
            .unwrap()
            .starts_with("TLS: untrusted"),
        "{}",
        probe("rogue")
    );
    // The table has a PROBE column.
    let out = run_in(&netns, &["discover", "--probe"], &home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().next().unwrap().ends_with("PROBE"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("good") && l.contains("  ok ")),
        "{stdout}"
    );
}
