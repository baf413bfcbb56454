//! `pingpong discover --type` browses any service type, as `avahi-browse` and
//! `dns-sd -B/-L` do: services published by avahi (`avahi-publish -s`, names
//! with spaces, dots and UTF-8, TXT values with `=` and binary bytes, a
//! subtype) and by python-zeroconf, over mDNS; `--all-types` lists the types
//! present; `-1` stops at the first; `--probe` is refused for other types;
//! `--watch` says why a service left; and unicast DNS-SD records of another
//! type in BIND. Each test runs in its own network namespace with a veth LAN
//! (`pp0`, 10.99.0.1/24).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::named::{nsupdate, wait_for_records, Named, NAMED_A, ZONE};
use common::peers::{interop_script, python, Avahi};
use common::readme;
use common::*;
use serde_json::Value;

/// A publishing process, ended (with its goodbye) when dropped.
struct Published(Child);

impl Drop for Published {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// `avahi-publish -s [--subtype SUB] NAME TYPE PORT TXT...`, once avahi has
/// established it.
fn avahi_publish(avahi: &Avahi, netns: &Netns, extra: &[&str], args: &[&[u8]]) -> Published {
    use std::os::unix::ffi::OsStrExt;
    let mut child = avahi
        .command(netns, "avahi-publish")
        .arg("-s")
        .args(extra)
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("avahi-publish exited").unwrap();
    assert!(first.contains("Established under name"), "{first}");
    std::thread::spawn(move || for _ in lines {});
    Published(child)
}

/// The first line `child` prints on stdout.
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// python-zeroconf's registration of NAME (TYPE, PORT, TXT...) on 10.99.0.1.
fn zeroconf_publish(netns: &Netns, args: &[&str]) -> Published {
    let mut child = netns
        .command(python().to_str().unwrap())
        .arg(interop_script("zeroconf_register.py"))
        .args(args)
        .env("PEER_HOST", "zc-host")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    assert!(line.starts_with("registered"), "{line}");
    Published(child)
}

/// `pingpong discover ARGS --json` in `netns`: the array it printed.
fn discover_json(netns: &Netns, args: &[&str]) -> Vec<Value> {
    let out = netns
        .command(bin())
        .arg("discover")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    json_array(&out)
}

fn by_instance<'a>(found: &'a [Value], instance: &str) -> &'a Value {
    found
        .iter()
        .find(|s| s["instance"] == instance)
        .unwrap_or_else(|| panic!("{instance} not listed: {found:?}"))
}

fn txt(service: &Value) -> Vec<(String, String)> {
    service["txt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn services_of_any_type_from_avahi_and_python_zeroconf_are_listed_with_their_txt() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let _printer = avahi_publish(
        &avahi,
        &netns,
        &["--subtype", "_printer._sub._http._tcp"],
        &[
            b"Office Printer. 2nd floor",
            b"_http._tcp",
            b"8080",
            b"path=/a=b",
            b"note=two words",
            b"bin=\x01\xff",
        ],
    );
    let _cafe = avahi_publish(
        &avahi,
        &netns,
        &[],
        &["Café ☕".as_bytes(), b"_http._tcp", b"8081"],
    );
    let _other = avahi_publish(&avahi, &netns, &[], &[b"files", b"_sftp-ssh._tcp", b"22"]);
    let _zeroconf = zeroconf_publish(
        &netns,
        &["_http._tcp.local.", "zc web", "8083", "10.99.0.1", "k=v=w"],
    );

    let found = discover_json(&netns, &["--type", "_http._tcp", "--timeout", "3"]);
    assert_eq!(found.len(), 3, "{found:#?}");
    let printer = by_instance(&found, "Office Printer. 2nd floor");
    assert_eq!(printer["port"], 8080);
    assert_eq!(printer["type"], "_http._tcp.local.");
    assert!(
        printer["host"].as_str().unwrap().ends_with(".local"),
        "{printer}"
    );
    assert!(
        printer["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "10.99.0.1:8080"),
        "{printer}"
    );
    assert_eq!(
        txt(printer),
        [
            ("path".to_string(), "/a=b".to_string()),
            ("note".into(), "two words".into()),
            ("bin".into(), "\\x01\\xff".into()),
        ]
    );
    assert_eq!(by_instance(&found, "Café ☕")["port"], 8081);
    let zc = by_instance(&found, "zc web");
    assert_eq!(zc["host"], "zc-host.local");
    assert_eq!(txt(zc), [("k".to_string(), "v=w".to_string())]);

    // A subtype lists only its services.
    let printers = discover_json(
        &netns,
        &["--type", "_printer._sub._http._tcp", "--timeout", "3"],
    );
    let names: Vec<&str> = printers
        .iter()
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Office Printer. 2nd floor"]);

    // The types present (RFC 6763 §9).
    let types = discover_json(&netns, &["--all-types", "--timeout", "3"]);
    let types: Vec<&str> = types.iter().map(|t| t["type"].as_str().unwrap()).collect();
    for wanted in ["_http._tcp.local.", "_sftp-ssh._tcp.local."] {
        assert!(types.contains(&wanted), "{types:?}");
    }

    // The text table, one row per service, with its TXT.
    let out = netns
        .command(bin())
        .args(["discover", "--type", "_http._tcp.local.", "--timeout", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout.starts_with("INSTANCE"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("Office Printer. 2nd floor"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.contains("\"note=two words\" bin=\\x01\\xff"), "{row}");
}

#[test]
fn first_stops_at_the_first_answer_and_probe_is_refused_for_other_types() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let _web = avahi_publish(&avahi, &netns, &[], &[b"web", b"_http._tcp", b"80"]);
    // With a 60 s window, only stopping at the first answer ends it within
    // the test's patience.
    let mut child = netns
        .command(bin())
        .args([
            "discover",
            "--type",
            "_http._tcp",
            "-1",
            "--timeout",
            "60",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use wait_timeout::ChildExt;
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("-1 did not stop at the first answer");
    assert!(status.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let found: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["instance"], "web");

    let out = netns
        .command(bin())
        .args(["discover", "--type", "_http._tcp", "--probe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("drop --probe"), "{stderr}");
}

#[test]
fn a_watched_service_of_another_type_leaves_with_its_goodbye() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let mut watch = netns
        .command(bin())
        .args(["discover", "--type", "_http._tcp", "--watch", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let web = avahi_publish(&avahi, &netns, &[], &[b"web", b"_http._tcp", b"80", b"a=1"]);
    let added: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(added["event"], "added", "{added}");
    assert_eq!(added["instance"], "web");
    drop(web);
    let removed = lines
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
        .find(|e| e["event"] == "removed")
        .expect("removed");
    assert_eq!(removed["instance"], "web");
    assert_eq!(removed["reason"], "goodbye", "{removed}");
    watch.kill().ok();
    watch.wait().ok();
}

#[test]
fn unicast_dns_sd_records_of_another_type_are_listed() {
    let netns = Netns::new();
    netns.ip(&["addr", "add", &format!("{NAMED_A}/32"), "dev", "lo"]);
    let dir = tempfile::tempdir().unwrap();
    let named = Named::start(&|p| netns.command(p), dir.path(), &[NAMED_A]);
    // named may log "running" before its socket on a loopback address is
    // open: wait until it answers.
    wait_for_records(
        &|p| netns.command(p),
        ZONE,
        "SOA",
        Duration::from_secs(20),
        |soa| !soa.is_empty(),
    );
    nsupdate(
        &|p| netns.command(p),
        &named.key,
        &format!(
            "update add _http._tcp.{ZONE}. 60 PTR Wiki\\032Page._http._tcp.{ZONE}.\n\
             update add Wiki\\032Page._http._tcp.{ZONE}. 60 SRV 0 0 8080 wiki.{ZONE}.\n\
             update add Wiki\\032Page._http._tcp.{ZONE}. 60 TXT \"path=/wiki\" \"lang=fr\"\n\
             update add wiki.{ZONE}. 60 A 10.99.0.7"
        ),
    );
    let found = discover_json(
        &netns,
        &[
            "--type",
            "_http._tcp",
            "--dns-sd",
            ZONE,
            "--dns-server",
            NAMED_A,
        ],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let wiki = &found[0];
    assert_eq!(wiki["instance"], "Wiki Page", "{wiki}");
    assert_eq!(wiki["source"], "dns-sd");
    assert_eq!(wiki["domain"], ZONE);
    assert_eq!(wiki["port"], 8080);
    assert_eq!(wiki["addresses"][0], "10.99.0.7:8080");
    let mut pairs = txt(wiki);
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("lang".to_string(), "fr".to_string()),
            ("path".into(), "/wiki".into())
        ]
    );
}

/// `pingpong publish ARGS` in `netns` (host name `host`), once it says what it
/// publishes: the process and that line.
fn publish(netns: &Netns, host: &str, args: &[&str]) -> (Published, String) {
    let mut child = netns
        .command("unshare")
        .args([
            "--uts",
            "sh",
            "-c",
            &format!("hostname {host} && exec \"$0\" \"$@\""),
            bin(),
        ])
        .arg("publish")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    assert!(line.starts_with("publishing "), "{line}");
    (Published(child), line)
}

/// The services of `service_type` avahi resolves (`avahi-browse -rpt`), as
/// (name, port, TXT) once `want` are there (or 10 s have passed).
fn avahi_resolved(avahi: &Avahi, netns: &Netns, service_type: &str, want: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = avahi
            .command(netns, "avahi-browse")
            .args(["-rpt", service_type])
            .output()
            .unwrap();
        let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("=;") && l.contains(";IPv4;"))
            .map(|l| {
                let fields: Vec<&str> = l.split(';').collect();
                format!("{} {} {}", fields[3], fields[8], fields[9])
            })
            .collect();
        found.sort();
        found.dedup();
        if found.len() >= want || std::time::Instant::now() > deadline {
            return found;
        }
    }
}

#[test]
fn publish_announces_any_type_to_avahi_python_zeroconf_and_discover_and_says_goodbye() {
    // Two publishing hosts and a third that looks (avahi, python-zeroconf,
    // discover), on one bridge.
    let lan = Lan::new(3);
    let viewer = &lan.hosts[2];
    let avahi = Avahi::start_on(viewer, "eth0", false);
    // A name with a dot is refused over mDNS, with the reason (mdns-sd
    // 0.21.7 cannot answer queries for it, docs/upstream/mdns-sd-conflict-rename.md).
    let refused = lan.hosts[0]
        .command(bin())
        .args(["publish", "My Web. v2", "_http._tcp", "8080"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("has a dot or a backslash") && stderr.contains("--no-mdns"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A machine whose host name is a full name is `box.local` on the link,
    // as avahi names it.
    let (first, line) = publish(
        &lan.hosts[0],
        "box.example.com",
        &[
            "My Web v2 café",
            "_http._tcp",
            "8080",
            "path=/x",
            "k=v=w",
            "--mdns-interface",
            "eth0",
        ],
    );
    assert!(
        line.contains("\"My Web v2 café\" _http._tcp.local."),
        "{line}"
    );
    assert!(line.contains("10.77.0.1"), "{line}");
    // Once a host holds a name, the same name from another host is renamed,
    // not refused (over IPv4 and IPv6).
    let seen = avahi_resolved(&avahi, viewer, "_http._tcp", 1);
    assert!(seen.iter().any(|s| s.contains(" 8080 ")), "{seen:?}");
    let (_twin, _) = publish(&lan.hosts[0], "box", &["Twin", "_http._tcp", "9000"]);
    let seen = avahi_resolved(&avahi, viewer, "_http._tcp", 2);
    assert!(seen.iter().any(|s| s.contains(" 9000 ")), "{seen:?}");
    let (_second, renamed) = publish(&lan.hosts[1], "other", &["Twin", "_http._tcp", "9001"]);
    assert!(renamed.starts_with("publishing "), "{renamed}");

    let seen = avahi_resolved(&avahi, viewer, "_http._tcp", 3);
    assert!(
        seen.iter()
            .any(|s| s.starts_with("My\\032Web\\032v2\\032caf\\195\\169 ") && s.contains(" 8080 ")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|s| s.contains("\"k=v=w\" \"path=/x\"")),
        "{seen:?}"
    );

    let zeroconf = viewer
        .command(python().to_str().unwrap())
        .args([
            interop_script("zeroconf_browse.py").as_str(),
            "_http._tcp.local.",
            "3",
        ])
        .output()
        .unwrap();
    let browsed = String::from_utf8_lossy(&zeroconf.stdout);
    assert!(
        browsed.contains("\"name\": \"My Web v2 caf\\u00e9._http._tcp.local.\", \"port\": 8080"),
        "{browsed}"
    );
    assert!(browsed.contains("\"path\": \"/x\""), "{browsed}");

    let found = discover_json(viewer, &["--type", "_http._tcp", "--timeout", "3"]);
    let mine = by_instance(&found, "My Web v2 café");
    assert_eq!(mine["port"], 8080);
    assert_eq!(mine["host"], "box.local");
    assert_eq!(
        txt(mine),
        [
            ("path".to_string(), "/x".to_string()),
            ("k".into(), "v=w".into())
        ]
    );
    // The second twin took another name.
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(by_instance(&found, "Twin")["port"], 9000);
    assert_eq!(by_instance(&found, "Twin (2)")["port"], 9001);
    // A resolver that missed the announcements asks for the instance's
    // records directly, and gets them.
    for (instance, port) in [("My Web v2 café", 8080), ("Twin (2)", 9001)] {
        let asked = viewer
            .command(python().to_str().unwrap())
            .args([
                "-c",
                "import sys\nfrom zeroconf import Zeroconf\nz = Zeroconf()\n\
                 i = z.get_service_info('_http._tcp.local.', sys.argv[1] + '._http._tcp.local.', 3000)\n\
                 print(i.port if i else None)\nz.close()",
                instance,
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&asked.stdout);
        assert_eq!(said.trim(), port.to_string(), "{instance}: {asked:?}");
    }

    // SIGTERM: the goodbye, as a watch sees it.
    let mut watch = viewer
        .command(bin())
        .args(["discover", "--type", "_http._tcp", "--watch", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap());
    while lines.next().expect("added")["instance"] != "My Web v2 café" {}
    let mut first = first;
    send_signal(&first.0, libc::SIGTERM);
    assert!(first.0.wait().unwrap().success());
    let removed = lines.find(|e| e["event"] == "removed").expect("removed");
    assert_eq!(removed["instance"], "My Web v2 café", "{removed}");
    assert_eq!(removed["reason"], "goodbye", "{removed}");
    watch.kill().ok();
    watch.wait().ok();
}

/// The README's section, each line as written, in a namespace where avahi
/// publishes a web server and a printer (with its subtype).
#[test]
fn the_readme_section_works_as_written() {
    let netns = Netns::new().with_lan();
    let avahi = Avahi::start(&netns);
    let _site = avahi_publish(
        &avahi,
        &netns,
        &[],
        &[b"site", b"_http._tcp", b"80", b"path=/"],
    );
    let _printer = avahi_publish(
        &avahi,
        &netns,
        &["--subtype", "_printer._sub._http._tcp"],
        &[b"printer", b"_http._tcp", b"631"],
    );
    let lines: Vec<Vec<String>> = readme::shell_lines("Any service type: browse and publish")
        .iter()
        .map(|line| common::readme_blocks::shell_words(line))
        .filter(|words| !words.is_empty())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines {
        let command = line.join(" ");
        let words: Vec<&str> = line.iter().skip(1).map(String::as_str).collect();
        let mut process = netns.command(bin());
        if words[0] == "publish" {
            // Runs until stopped: it must announce, be seen, and say goodbye.
            let name = words[1];
            let mut child = process.args(&words).stdout(Stdio::piped()).spawn().unwrap();
            let out = first_line(&mut child);
            assert!(out.starts_with(&format!("publishing \"{name}\"")), "{out}");
            let found = discover_json(&netns, &["--type", "_http._tcp", "--timeout", "3"]);
            let wiki = by_instance(&found, name);
            assert_eq!(txt(wiki), [("path".to_string(), "/wiki".to_string())]);
            send_signal(&child, libc::SIGTERM);
            assert!(child.wait().unwrap().success(), "`{command}`");
            continue;
        }
        let stdout = readme::succeeds(&command, {
            process.args(&words);
            process
        });
        match words[..] {
            ["discover", "--type", "_http._tcp"] => {
                for name in ["site", "printer"] {
                    assert!(
                        stdout.lines().any(|l| l.starts_with(name)),
                        "`{command}`: {stdout}"
                    );
                }
                assert!(stdout.contains("path=/"), "`{command}`: {stdout}");
            }
            ["discover", "--all-types"] => {
                assert!(
                    stdout.lines().any(|l| l == "_http._tcp.local."),
                    "`{command}`: {stdout}"
                );
            }
            ["discover", "--type", "_printer._sub._http._tcp", "-1"] => {
                let rows: Vec<&str> = stdout.lines().skip(1).collect();
                assert_eq!(rows.len(), 1, "`{command}`: {stdout}");
                assert!(rows[0].starts_with("printer"), "`{command}`: {stdout}");
            }
            _ => panic!("no check for `{command}`"),
        }
    }
}
