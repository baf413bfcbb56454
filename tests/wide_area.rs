//! Wide-area DNS-SD (issue 18): servers register themselves by RFC 2136
//! dynamic update, signed with TSIG, in a zone of a real BIND 9 on a router;
//! a client on the other subnet (no multicast across) finds them with
//! `--dns-sd ZONE`. Checked with `dig` and `nsupdate` against the same named.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::get_in;
use common::named::{dig, nsupdate, wait_for_records, Named, NAMED_A, NAMED_B, ZONE};
use common::routed::{pki, registered_python_server, registered_server, server_in_zone, Routed};
use common::*;
use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

/// What named answers for `name`/`kind` (`dig +short`, sorted).
fn zone(lab: &Routed, name: &str, kind: &str) -> Vec<String> {
    dig(&|p| lab.on_router(p), NAMED_A, name, kind)
}

#[test]
fn servers_register_and_a_client_on_another_subnet_finds_and_pings_them() {
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["web1", "web2", "laptop"]);

    // The primary is found from the zone's SOA through the host's resolver.
    let web1 = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &[
            "--instance",
            "Bar Wide",
            "--register-refresh",
            "1",
            "--register-ttl",
            "1",
        ],
    );
    web1.wait_for_registered(Duration::from_secs(20));
    let browse = format!("_pingpong._udp.{ZONE}");
    assert_eq!(
        zone(&lab, &browse, "PTR"),
        [r"Bar\032Wide._pingpong._udp.lab.test."]
    );
    let bar = r"Bar\032Wide._pingpong._udp.lab.test";
    assert_eq!(zone(&lab, bar, "SRV"), ["0 100 4433 web1.lab.test."]);
    assert_eq!(zone(&lab, "web1.lab.test", "A"), ["10.81.0.1"]);
    assert_eq!(zone(&lab, "web1.lab.test", "AAAA"), Vec::<String>::new());
    let txt = zone(&lab, bar, "TXT").join(" ");
    for key in [
        "\"v=",
        "\"id=",
        "\"path=/pingpong\"",
        "\"state=serving\"",
        "\"fp=",
    ] {
        assert!(txt.contains(key), "TXT lacks {key}: {txt}");
    }

    // The same instance name from another host: renamed, both registered.
    let web2 = registered_server(
        &lab,
        1,
        "web2",
        &homes[1],
        &named.key,
        &["--instance", "Bar Wide", "--register-ttl", "1"],
    );
    web2.wait_for_registered(Duration::from_secs(20));
    assert!(
        web2.logs()
            .contains("instance name taken in DNS by another server; renamed"),
        "{}",
        web2.logs()
    );
    let both = wait_for_records(
        &|p| lab.on_router(p),
        &browse,
        "PTR",
        Duration::from_secs(5),
        |p| p.len() == 2,
    );
    assert!(
        both.contains(&r"Bar\032Wide\032\(2\)._pingpong._udp.lab.test.".to_string()),
        "{both:?}"
    );

    // The client on subnet B: DNS-SD through its resolver, then mTLS pings.
    let out = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .args(["discover", "--dns-sd", ZONE, "--json"])
        .output()
        .unwrap();
    let found = json_array(&out);
    assert_eq!(found.len(), 2, "{}", describe(&out));
    for server in &found {
        assert_eq!(server["source"], "dns-sd", "{server}");
    }
    let out = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .args(["client", "--dns-sd", ZONE, "-c", "3", "-i", "0.01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 received"),
        "{}",
        describe(&out)
    );

    // A record deleted by hand comes back at the next refresh.
    nsupdate(
        &|p| lab.on_router(p),
        &named.key,
        &format!("update delete {bar}. SRV"),
    );
    assert!(zone(&lab, bar, "SRV").is_empty());
    wait_for_records(
        &|p| lab.on_router(p),
        bar,
        "SRV",
        Duration::from_secs(10),
        |srv| srv == ["0 100 4433 web1.lab.test."],
    );

    // A watching browser on subnet B sees both, then web1 leave.
    let mut watch = JsonClient::spawn({
        let mut command = on_host(&lab.b.hosts[0], "laptop", &homes[2]);
        command.args(["discover", "--watch", "--dns-sd", ZONE, "--json"]);
        command
    });
    let mut seen: Vec<String> = (0..2)
        .map(|_| {
            watch.until("added")["instance"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["Bar Wide", "Bar Wide (2)"]);

    // SIGTERM: draining first, then only web1's records leave the zone.
    let mut web1 = web1;
    web1.signal(libc::SIGTERM);
    web1.wait_exit(Duration::from_secs(15));
    // Within the records' TTL (1 s here).
    assert_eq!(watch.until("removed")["instance"], "Bar Wide");
    let _ = watch.child.kill();
    let _ = watch.child.wait();
    assert!(web1.logs().contains("removed from DNS"), "{}", web1.logs());
    // With no session to wait for, the drain lasts milliseconds: named's own
    // log shows the draining TXT written, then the instance deleted.
    let log = named.logs();
    let draining = log
        .find(r#"adding an RR at 'Bar\032Wide._pingpong._udp.lab.test' TXT "v=1" "path=/pingpong" "state=draining""#)
        .unwrap_or_else(|| panic!("no draining TXT in named's log:\n{log}"));
    let deleted = log
        .find(r"delete all rrsets from name 'Bar\032Wide._pingpong._udp.lab.test'")
        .unwrap_or_else(|| panic!("web1 never deleted its records:\n{log}"));
    assert!(draining < deleted, "{log}");
    assert_eq!(
        zone(&lab, &browse, "PTR"),
        [r"Bar\032Wide\032\(2\)._pingpong._udp.lab.test."]
    );
    assert!(zone(&lab, bar, "ANY").is_empty());
    assert!(zone(&lab, "web1.lab.test", "A").is_empty());
    assert_eq!(zone(&lab, "web2.lab.test", "A"), ["10.81.0.2"]);
    drop(named);
}

/// Every way registering fails is one line with the cause and the fix, and
/// the server serves meanwhile; `/readyz` and `/metrics` say where it stands.
#[test]
fn registration_errors_are_one_line_and_the_server_keeps_serving() {
    let lab = Routed::new(1, 0);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start_with_zones(
        &|p| lab.on_router(p),
        dir.path(),
        &[NAMED_A],
        &[],
        &["locked.test"],
    );
    let homes = pki(dir.path(), &["web1"]);
    let wrong = dir.path().join("wrong.key");
    common::named::keygen(&wrong);

    // A key with the right name and another secret: BADSIG.
    let server = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &wrong,
        &["--metrics", "127.0.0.1:9464"],
    );
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("not registered in DNS"))
        .unwrap();
    assert!(
        line.contains("BADSIG") && line.contains("same secret"),
        "{line}"
    );
    // It serves regardless.
    let ping = on_host(&lab.a.hosts[0], "web1", &homes[0])
        .args([
            "client",
            "https://10.81.0.1:4433/pingpong",
            "--server-name",
            "web1.lab.test",
            "-c",
            "1",
        ])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{}", describe(&ping));
    let readyz = get_in(&lab.a.hosts[0], "http://127.0.0.1:9464/readyz");
    assert!(
        readyz.starts_with("ready\ndns: not registered:") && readyz.contains("BADSIG"),
        "{readyz}"
    );
    let metrics = get_in(&lab.a.hosts[0], "http://127.0.0.1:9464/metrics");
    assert!(metrics.contains("pingpong_dns_registered 0"), "{metrics}");
    assert!(zone(&lab, &format!("_pingpong._udp.{ZONE}"), "PTR").is_empty());
    drop(server);

    // Another key name: BADKEY.
    let other = dir.path().join("other.key");
    let out = std::process::Command::new("tsig-keygen")
        .args(["-a", "hmac-sha256", "stranger"])
        .output()
        .unwrap();
    std::fs::write(&other, out.stdout).unwrap();
    let server = registered_server(&lab, 0, "web1", &homes[0], &other, &[]);
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    assert!(
        server
            .logs()
            .contains("does not know the key \"stranger\" (BADKEY)"),
        "{}",
        server.logs()
    );
    drop(server);

    // A zone that does not exist.
    let server = server_in_zone(&lab, 0, "web1", &homes[0], &named.key, "nowhere.test", &[]);
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    assert!(
        server
            .logs()
            .contains("cannot find the DNS zone nowhere.test"),
        "{}",
        server.logs()
    );
    drop(server);

    // A zone that takes no updates: REFUSED, with the policy to add.
    let server = server_in_zone(&lab, 0, "web1", &homes[0], &named.key, "locked.test", &[]);
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    assert!(
        server
            .logs()
            .contains("refused the update of locked.test (REFUSED)"),
        "{}",
        server.logs()
    );
    assert!(
        server.logs().contains("grant pingpong-update zonesub ANY"),
        "{}",
        server.logs()
    );
    drop(server);

    // A DNS server that does not hold the zone: BIND answers REFUSED too.
    let server = server_in_zone(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        "elsewhere.test",
        &["--register-server", NAMED_A],
    );
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    assert!(
        server
            .logs()
            .contains("refused the update of elsewhere.test (REFUSED): it does not hold that zone"),
        "{}",
        server.logs()
    );
    drop(server);

    // Clocks ten minutes apart (libfaketime, preloaded into the server
    // itself): BADTIME, with the difference.
    let mut command = on_host(&lab.a.hosts[0], "web1", &homes[0]);
    command
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", "+600s")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args([
            "server",
            "--listen",
            "0.0.0.0:4433",
            "--register-dns",
            ZONE,
            "--tsig-key",
        ])
        .arg(&named.key);
    let server = ServerProcess::spawn(command);
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("(BADTIME)"))
        .unwrap_or_else(|| panic!("{logs}"));
    let skew: i64 = line
        .split("this machine's by ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((-610..=-590).contains(&skew), "{line}");
    drop(server);

    // No DNS server there: unreachable, said once, retried.
    let server = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &["--register-server", "10.81.0.99"],
    );
    server.wait_for_log("not registered in DNS", Duration::from_secs(20));
    assert!(
        server
            .logs()
            .contains("no answer from the DNS server 10.81.0.99:53 for zone lab.test"),
        "{}",
        server.logs()
    );
    drop(server);

    // The right key: registered, and the endpoints say so.
    let server = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &["--metrics", "127.0.0.1:9464"],
    );
    server.wait_for_registered(Duration::from_secs(20));
    let readyz = get_in(&lab.a.hosts[0], "http://127.0.0.1:9464/readyz");
    assert_eq!(readyz, "ready\ndns: registered as \"web1\" in lab.test\n");
    let metrics = get_in(&lab.a.hosts[0], "http://127.0.0.1:9464/metrics");
    assert!(metrics.contains("pingpong_dns_registered 1"), "{metrics}");
}

/// Debian's libfaketime (package `faketime`), for a process whose clock is off.
fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("faketime/libfaketime.so.1"))
        .find(|path| path.exists())
        .expect(
            "libfaketime is not installed: `apt-get install faketime` (scripts/test installs it)",
        )
}

/// [`http_get`], or an empty body while nothing listens yet.
fn http_get_retrying(netns: &Netns, url: &str) -> String {
    let script = "import sys, urllib.request\ntry:\n    sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())\nexcept OSError:\n    pass";
    let out = netns
        .command(&std::env::var("PINGPONG_TEST_PYTHON").unwrap_or_else(|_| "python3".into()))
        .args(["-c", script, url])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// A crashed server's records stay (no TTL removes them from an authoritative
/// zone): `discover --probe` shows it unreachable, and `dns prune` deletes
/// it (dry run first), leaving the live server alone.
#[test]
fn a_crashed_servers_records_are_shown_unreachable_and_pruned() {
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["web1", "web2", "laptop"]);
    let mut web1 = registered_server(&lab, 0, "web1", &homes[0], &named.key, &[]);
    let web2 = registered_server(&lab, 1, "web2", &homes[1], &named.key, &[]);
    web1.wait_for_registered(Duration::from_secs(20));
    web2.wait_for_registered(Duration::from_secs(20));
    web1.signal(libc::SIGKILL);
    web1.wait_exit(Duration::from_secs(5));
    let browse = format!("_pingpong._udp.{ZONE}");
    assert_eq!(zone(&lab, &browse, "PTR").len(), 2);

    let laptop = |args: &[&str]| {
        on_host(&lab.b.hosts[0], "laptop", &homes[2])
            .args(args)
            .output()
            .unwrap()
    };
    let out = laptop(&["discover", "--dns-sd", ZONE, "--probe", "--json"]);
    let found = json_array(&out);
    let probe = |name: &str| {
        found
            .iter()
            .find(|s| s["instance"] == name)
            .unwrap_or_else(|| panic!("{name} not found: {}", describe(&out)))["probe"]
            .clone()
    };
    assert_eq!(probe("web1")["ok"], false, "{}", describe(&out));
    assert_eq!(probe("web2")["ok"], true, "{}", describe(&out));

    // Dry run: says what would go, deletes nothing.
    let out = laptop(&["dns", "prune", ZONE]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string()
    };
    assert!(row("web1 ").ends_with("would delete"), "{text}");
    assert!(row("web2 ").ends_with("kept"), "{text}");
    assert!(
        text.contains("1 instance(s) did not answer: run again with --apply"),
        "{text}"
    );
    assert_eq!(zone(&lab, &browse, "PTR").len(), 2);

    // --apply without a key: told what is missing.
    let out = laptop(&["dns", "prune", ZONE, "--apply"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs --tsig-key FILE"),
        "{}",
        describe(&out)
    );

    let key = named.key.display().to_string();
    let out = laptop(&["dns", "prune", ZONE, "--apply", "--tsig-key", &key]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("deleted 1 instance(s) from lab.test"),
        "{text}"
    );
    assert_eq!(
        zone(&lab, &browse, "PTR"),
        ["web2._pingpong._udp.lab.test."]
    );
    assert!(zone(&lab, "web1._pingpong._udp.lab.test", "ANY").is_empty());
    assert!(zone(&lab, "web1.lab.test", "A").is_empty());
    assert_eq!(zone(&lab, "web2.lab.test", "A"), ["10.81.0.2"]);
}

/// Canary by the records themselves (RFC 2782): servers registered with SRV
/// weights 95 and 5; of 1,000 client starts, the canary's share lies within
/// the binomial 99.9 % bounds (28 to 72 of 1,000).
#[test]
fn srv_weights_send_a_canary_its_share_of_new_clients() {
    // End to end: the weights set by the servers reach the clients' choice.
    // The share itself is checked exactly, seeded, by
    // discovery::srv::tests::first_choice_follows_the_weights; here the bounds
    // are wide enough that chance fails this test about once in five million
    // runs (no canary at all: 0.95^300 = 2e-7).
    let starts = 300;
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["stable", "canary", "laptop"]);
    let stable = registered_server(
        &lab,
        0,
        "stable",
        &homes[0],
        &named.key,
        &["--srv-weight", "95"],
    );
    let canary = registered_server(
        &lab,
        1,
        "canary",
        &homes[1],
        &named.key,
        &["--srv-weight", "5"],
    );
    stable.wait_for_registered(Duration::from_secs(20));
    canary.wait_for_registered(Duration::from_secs(20));
    assert_eq!(
        zone(&lab, "canary._pingpong._udp.lab.test", "SRV"),
        ["0 5 4433 canary.lab.test."]
    );

    let started = std::time::Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let landed: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < starts {
                        let out = on_host(&lab.b.hosts[0], "laptop", &homes[2])
                            .args(["client", "--dns-sd", ZONE, "-c", "1", "--json"])
                            .output()
                            .unwrap();
                        assert!(out.status.success(), "{}", describe(&out));
                        let first: serde_json::Value = serde_json::from_str(
                            String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
                        )
                        .unwrap();
                        mine.push(first["instance"].as_str().unwrap().to_string());
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let to_canary = landed.iter().filter(|i| *i == "canary").count();
    let to_stable = landed.iter().filter(|i| *i == "stable").count();
    eprintln!(
        "{starts} client starts in {:?}: {to_stable} on stable, {to_canary} on canary",
        started.elapsed()
    );
    assert_eq!(to_canary + to_stable, starts);
    // Expected 15 of 300 (5 %): some, and far fewer than an even split's 150
    // (at most 60 = 20 %: over 11 standard deviations above the mean).
    assert!(
        (1..=starts / 5).contains(&to_canary),
        "canary got {to_canary} of {starts}: its weight is 5 of 100"
    );
}

/// The Python server registers exactly what the Rust server does (same
/// names, SRV, TXT keys in the same order, addresses), takes `NAME (2)` on a
/// conflict, is found and pinged across the router, and leaves the zone on
/// SIGTERM after saying it drains.
#[test]
fn the_python_server_registers_the_same_records() {
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["web1", "web2", "laptop"]);
    let rust = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &["--instance", "Living Room"],
    );
    rust.wait_for_registered(Duration::from_secs(20));
    let mut python = registered_python_server(
        &lab,
        1,
        "web2",
        &homes[1],
        &named.key,
        &["--instance", "Living Room"],
    );
    python.wait_for_registered(Duration::from_secs(20));
    assert!(
        python
            .logs()
            .contains("instance name taken in DNS by another server; renamed"),
        "{}",
        python.logs()
    );

    let first = r"Living\032Room._pingpong._udp.lab.test";
    let second = r"Living\032Room\032\(2\)._pingpong._udp.lab.test";
    assert_eq!(zone(&lab, second, "SRV"), ["0 100 4433 web2.lab.test."]);
    assert_eq!(zone(&lab, "web2.lab.test", "A"), ["10.81.0.2"]);
    // The same TXT keys in the same order; only the values differ.
    let keys = |txt: Vec<String>| -> Vec<String> {
        txt.join(" ")
            .split('"')
            .filter(|s| s.contains('='))
            .map(|s| s.split('=').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys(zone(&lab, second, "TXT")),
        keys(zone(&lab, first, "TXT"))
    );
    assert_eq!(
        keys(zone(&lab, second, "TXT")),
        ["v", "path", "state", "id", "fp", "load"]
    );

    let out = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .args(["discover", "--dns-sd", ZONE, "--probe", "--json"])
        .output()
        .unwrap();
    let found = json_array(&out);
    assert_eq!(found.len(), 2, "{}", describe(&out));
    assert!(
        found.iter().all(|s| s["probe"]["ok"] == true),
        "{}",
        describe(&out)
    );

    // The dashboard's agent monitors both, found by DNS-SD.
    let mut web = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .args([
            "web",
            "--dns-sd",
            ZONE,
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:9465",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let up =
        |instance: &str| format!(r#"pingpong_web_session_up{{instance="{instance}",key="dns:"#);
    loop {
        let metrics = http_get_retrying(&lab.b.hosts[0], "http://127.0.0.1:9465/metrics");
        let both = ["Living Room", "Living Room (2)"].iter().all(|i| {
            metrics.lines().any(|l| {
                l.starts_with(&up(i)) && l.contains(r#"source="dns-sd"}"#) && l.ends_with(" 1")
            })
        });
        if both {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web never monitored both:\n{metrics}"
        );
        // Polling an HTTP endpoint: nothing to wait on but its answers.
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = web.kill();
    let _ = web.wait();

    python.signal(libc::SIGTERM);
    python.wait_exit(Duration::from_secs(15));
    assert!(
        python.logs().contains("removed from DNS"),
        "{}",
        python.logs()
    );
    let log = named.logs();
    let draining = log
        .find(&format!(
            r#"adding an RR at '{second}' TXT "v=1" "path=/pingpong" "state=draining""#
        ))
        .unwrap_or_else(|| panic!("no draining TXT in named's log:\n{log}"));
    let deleted = log
        .find(&format!("delete all rrsets from name '{second}'"))
        .unwrap_or_else(|| panic!("the Python server never deleted its records:\n{log}"));
    assert!(draining < deleted, "{log}");
    assert!(zone(&lab, second, "ANY").is_empty());
    assert!(zone(&lab, "web2.lab.test", "A").is_empty());
    assert_eq!(
        zone(&lab, &format!("_pingpong._udp.{ZONE}"), "PTR"),
        [format!("{first}.")]
    );

    // A wrong key: one line with the cause, and it serves regardless.
    let wrong = dir.path().join("wrong.key");
    common::named::keygen(&wrong);
    let python = registered_python_server(&lab, 1, "web2", &homes[1], &wrong, &[]);
    python.wait_for_log("not registered in DNS", Duration::from_secs(20));
    let logs = python.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("not registered in DNS"))
        .unwrap();
    assert!(
        line.contains("BADSIG") && line.contains("same secret"),
        "{line}"
    );
    let ping = on_host(&lab.b.hosts[0], "laptop", &homes[2])
        .args([
            "client",
            "https://10.81.0.2:4433/pingpong",
            "--server-name",
            "web2.lab.test",
            "-c",
            "1",
        ])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{}", describe(&ping));
}

/// docs/discovery.md's BIND setup, run as written (only /etc/bind and
/// /var/lib/bind moved into `dir`): the key command, the zone statement and
/// the zone file with the browse records of "Browse domains the network
/// announces"; named in `netns` on `addresses`. Returns named, and the folder
/// that stands for /etc/bind (with `pingpong.key`).
fn documented_bind(dir: &Path, netns: &Netns, addresses: &[&str]) -> (Named, PathBuf) {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/discovery.md")).unwrap();
    let section = &doc[doc.find("## Across subnets").expect("the docs' section")..];
    let block = |lang: &str| {
        let fence = format!("```{lang}\n");
        let start = section
            .find(&fence)
            .unwrap_or_else(|| panic!("no {lang} block"))
            + fence.len();
        section[start..start + section[start..].find("```").unwrap()].to_string()
    };
    let (etc, lib) = (dir.join("etc-bind"), dir.join("var-lib-bind"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let moved = |text: &str| {
        text.replace("/etc/bind", &etc.display().to_string())
            .replace("/var/lib/bind", &lib.display().to_string())
    };
    let keygen = std::process::Command::new("sh")
        .args(["-ec", &moved(&block("sh"))])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", describe(&keygen));
    let zone = block("zone");
    let zone_path = zone.lines().next().unwrap().trim_start_matches(';').trim();
    // With the browse records of "Browse domains the network announces"
    // (their first stanza, for the search domain's zone).
    let announce = &doc[doc.find("## Browse domains").expect("the docs' section")..];
    let start = announce.find("```zone\n").expect("no zone block") + "```zone\n".len();
    let stanza = announce[start..].split("\n\n").next().unwrap();
    std::fs::write(moved(zone_path), format!("{zone}{stanza}\n")).unwrap();
    let named = Named::run(
        &|p| netns.command(p),
        dir,
        addresses,
        &moved(&block("conf")),
        etc.join("pingpong.key"),
    );
    (named, etc)
}

/// docs/discovery.md's BIND setup, run as written; a server then registers in
/// it and a client with the zone in its search list finds it with no flag.
#[test]
fn the_documented_bind_configuration_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let netns = Netns::new();
    let (named, etc) = documented_bind(dir.path(), &netns, &["127.0.0.1"]);
    let key = etc.join("pingpong.key");
    let homes = pki(dir.path(), &["web1"]);
    let mut command = netns.command(bin());
    command
        .env("PINGPONG_HOME", &homes[0])
        .args(["server", "--listen", "127.0.0.1:4433", "--instance", "web1"])
        .args([
            "--register-dns",
            "lab.example",
            "--register-server",
            "127.0.0.1",
        ])
        .args(["--register-host", "web1", "--tsig-key"])
        .arg(&key);
    let server = ServerProcess::spawn(command);
    server.wait_for_registered(Duration::from_secs(20));
    let launch = |p: &str| netns.command(p);
    assert_eq!(
        dig(&launch, "127.0.0.1", "_pingpong._udp.lab.example", "PTR"),
        ["web1._pingpong._udp.lab.example."]
    );
    assert_eq!(
        dig(&launch, "127.0.0.1", "web1.lab.example", "A"),
        ["127.0.0.1"]
    );
    // A client whose search list names the zone needs no flag.
    netns.set_resolv_conf("nameserver 127.0.0.1\nsearch lab.example\n");
    let out = netns
        .command(bin())
        .env("PINGPONG_HOME", &homes[0])
        .args(["discover", "--json"])
        .output()
        .unwrap();
    let found = json_array(&out);
    let learnt = found
        .iter()
        .find(|s| s["source"] == "dns-sd")
        .unwrap_or_else(|| panic!("not found over DNS-SD: {}", describe(&out)));
    assert_eq!(learnt["instance"], "web1");
    assert_eq!(
        learnt["learnt"],
        "b._dns-sd._udp.lab.example (the search list)"
    );
    drop(named);
}

/// The records follow the server: a new address replaces the old one in the
/// zone within a second or two, and a reloaded certificate changes TXT `fp`.
#[test]
fn records_follow_address_and_certificate_changes() {
    let lab = Routed::new(1, 0);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A]);
    let homes = pki(dir.path(), &["web1"]);
    let server = registered_server(&lab, 0, "web1", &homes[0], &named.key, &[]);
    server.wait_for_registered(Duration::from_secs(20));
    assert_eq!(zone(&lab, "web1.lab.test", "A"), ["10.81.0.1"]);

    // A new lease: the old address goes (with its secondaries, hence first),
    // the new one comes.
    lab.a.hosts[0].ip(&["addr", "del", "10.81.0.1/24", "dev", "eth0"]);
    lab.a.hosts[0].ip(&["addr", "add", "10.81.0.50/24", "dev", "eth0"]);
    wait_for_records(
        &|p| lab.on_router(p),
        "web1.lab.test",
        "A",
        Duration::from_secs(10),
        |a| a == ["10.81.0.50"],
    );

    let txt_name = "web1._pingpong._udp.lab.test";
    let before = zone(&lab, txt_name, "TXT").join(" ");
    // A new certificate for the same names, swapped in as a deploy would.
    let ca = store::load_ca(&CertPaths::new(dir.path().join("ca"))).unwrap();
    let leaf = issue_leaf(
        &ca,
        LeafRole::Server,
        "web1",
        &["web1.lab.test".into()],
        Validity::days(30),
    )
    .unwrap();
    let mine = CertPaths::new(&homes[0]);
    store::write_file(&mine.leaf_key(LeafRole::Server), &leaf.key, true, true).unwrap();
    store::write_file(&mine.leaf_cert(LeafRole::Server), &leaf.cert, false, true).unwrap();
    server.wait_for_log("certificates reloaded", Duration::from_secs(10));
    let after = wait_for_records(
        &|p| lab.on_router(p),
        txt_name,
        "TXT",
        Duration::from_secs(10),
        |t| t.join(" ") != before,
    );
    let fp = |txt: &str| {
        txt.split('"')
            .find(|s| s.starts_with("fp="))
            .map(str::to_string)
    };
    assert_ne!(fp(&after.join(" ")), fp(&before));
    // Still one instance: the same server, not a new registration.
    assert_eq!(
        zone(&lab, &format!("_pingpong._udp.{ZONE}"), "PTR").len(),
        1
    );
}

/// The records are what DNS-SD browsers expect: avahi, with wide-area
/// DNS-SD on and the named of its resolv.conf, browses the zone from the
/// other subnet and resolves the Rust and the Python server (instance names
/// with spaces included).
#[test]
fn avahi_browses_the_zone_and_resolves_both_servers() {
    let lab = Routed::new(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| lab.on_router(p), dir.path(), &[NAMED_A, NAMED_B]);
    let homes = pki(dir.path(), &["web1", "web2"]);
    let rust = registered_server(
        &lab,
        0,
        "web1",
        &homes[0],
        &named.key,
        &["--instance", "Rust Server"],
    );
    let python = registered_python_server(
        &lab,
        1,
        "web2",
        &homes[1],
        &named.key,
        &["--instance", "Python Server"],
    );
    rust.wait_for_registered(Duration::from_secs(20));
    python.wait_for_registered(Duration::from_secs(20));

    let avahi = common::peers::Avahi::start_on(&lab.b.hosts[0], "eth0", true);
    let out = avahi.browse_domain(&lab.b.hosts[0], ZONE, "_pingpong._udp");
    let text = String::from_utf8_lossy(&out.stdout);
    let resolved: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with('='))
        .map(|l| l.split(';').collect())
        .collect();
    for (name, host, address) in [
        (r"Rust\032Server", "web1.lab.test", "10.81.0.1"),
        (r"Python\032Server", "web2.lab.test", "10.81.0.2"),
    ] {
        let row = resolved
            .iter()
            .find(|r| r[3] == name)
            .unwrap_or_else(|| panic!("avahi did not resolve {name}: {}", describe(&out)));
        assert_eq!((row[6], row[7], row[8]), (host, address, "4433"), "{row:?}");
        assert!(
            row[9].contains("\"state=serving\"") && row[9].contains("\"path=/pingpong\""),
            "{row:?}"
        );
    }
}

/// The README's "Across subnets" lines, run as written on a machine named
/// web1 whose zone is docs/discovery.md's `lab.example` (its name server
/// 192.0.2.53 is this namespace's BIND; the key file `pingpong.key` is in the
/// working folder, as the README's relative path has it).
#[test]
fn the_readme_across_subnets_lines_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let netns = Netns::new();
    netns.ip(&["addr", "add", "192.0.2.53/32", "dev", "lo"]);
    let (named, etc) = documented_bind(dir.path(), &netns, &["127.0.0.1", "192.0.2.53"]);
    netns.set_resolv_conf("nameserver 127.0.0.1\nsearch lab.example\n");
    // web1's folder: its own server certificate for web1.lab.example.
    let (home, server_dir) = common::cluster::pki(
        dir.path(),
        &[
            "web1.lab.example".into(),
            "web1.local".into(),
            "web1".into(),
        ],
    );
    for file in ["server.pem", "server.key"] {
        std::fs::copy(server_dir.join(file), home.join(file)).unwrap();
    }
    let on_web1 = |args: &[&str]| {
        let mut command = on_host(&netns, "web1", &home);
        command.args(args).current_dir(&etc);
        command
    };
    let lines: Vec<Vec<String>> =
        common::readme::shell_lines("Across subnets: servers register themselves in DNS")
            .iter()
            .map(|line| common::readme_blocks::shell_words(line))
            .filter(|words| !words.is_empty())
            .collect();
    let mut server = None;
    let mut published = None;
    let mut ran = 0;
    for line in &lines {
        let command = &line.join(" ");
        let words: Vec<&str> = line.iter().map(String::as_str).collect();
        assert_eq!(words[0], "pingpong", "README line `{command}`");
        match words.get(1..3) {
            Some(["server", ..]) => {
                let started = ServerProcess::spawn(on_web1(&words[1..]));
                started.wait_for_registered(Duration::from_secs(20));
                server = Some(started);
            }
            Some(["client", ..]) | None => {
                let stdout = common::readme::succeeds(command, on_web1(&words[1..]));
                common::readme::assert_all_answered(command, &stdout, 10);
            }
            Some(["publish", ..]) => {
                // Runs until stopped: it must say it is in the zone.
                let mut child = on_web1(&words[1..])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let registered =
                    std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()))
                        .map(Result::unwrap)
                        .find(|line| line.starts_with("registered "));
                assert_eq!(
                    registered.as_deref(),
                    Some("registered \"Lab wiki\" _http._tcp in DNS zone lab.example"),
                    "`{command}`"
                );
                published = Some(child);
            }
            Some(["dns", "prune"]) => {
                let stdout = common::readme::succeeds(command, on_web1(&words[1..]));
                assert!(stdout.contains("web1"), "`{command}`: {stdout}");
                assert!(!stdout.contains("would delete"), "`{command}`: {stdout}");
            }
            _ => panic!("README line `{command}`: this test does not know it"),
        }
        ran += 1;
    }
    assert_eq!(ran, 5, "{lines:?}");
    assert!(server.is_some());
    let mut published = published.expect("the publish line ran");
    send_signal(&published, libc::SIGTERM);
    assert!(published.wait().unwrap().success());
    drop(named);
}
