//! DNS discovery against a real DNS server: dnsmasq serving records shaped like
//! a Kubernetes headless Service (SRV per ready pod, priority 0, weight
//! floor(100/N), TTL 5), a unicast DNS-SD domain, and broken records. Servers are
//! real `pingpong server` processes on distinct loopback addresses. Everything
//! runs in a network namespace, so dnsmasq can own 127.0.0.1:53 and the client
//! can be given a Kubernetes-like /etc/resolv.conf.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::cluster::{pki, pod, POD_RESOLV_CONF, SVC};
use common::dnsmasq::Dnsmasq;
use common::*;
use serde_json::Value;

/// SRV + A records of a headless Service whose ready pods are `pods`
/// (CoreDNS: priority 0, weight floor(100/N), one name per pod).
fn headless_service(pods: &[(&str, u16)]) -> String {
    let weight = 100 / pods.len();
    pods.iter()
        .enumerate()
        .map(|(i, (ip, port))| {
            format!("srv-host=_pingpong._udp.{SVC},pod-{i}.{SVC},{port},0,{weight}\nhost-record=pod-{i}.{SVC},{ip}\n")
        })
        .collect()
}

struct Cluster {
    netns: Netns,
    _dir: tempfile::TempDir,
    home: PathBuf,
    server_dir: PathBuf,
}

impl Cluster {
    fn new() -> Self {
        let netns = Netns::new();
        netns.set_resolv_conf(POD_RESOLV_CONF);
        let dir = tempfile::tempdir().unwrap();
        // Every pod of the Service, and the DNS-SD hosts.
        let (home, server_dir) = pki(
            dir.path(),
            &[
                format!("*.{SVC}"),
                "web1.example.test".into(),
                "notxt.example.test".into(),
            ],
        );
        Self {
            netns,
            _dir: dir,
            home,
            server_dir,
        }
    }

    fn pod(&self, ip: &str) -> ServerProcess {
        pod(
            &self.netns,
            &self.home,
            &self.server_dir,
            &format!("{ip}:0"),
            ip,
            &[],
        )
    }

    fn dns(&self, records: &str) -> Dnsmasq {
        Dnsmasq::start(&self.netns, self._dir.path(), records)
    }

    fn pingpong(&self, args: &[&str]) -> Output {
        self.netns
            .command(bin())
            .args(args)
            .env("PINGPONG_HOME", &self.home)
            .env_remove("PINGPONG_DNS")
            .output()
            .unwrap()
    }
}

#[test]
fn a_client_reaches_a_pod_given_only_the_service_name() {
    let cluster = Cluster::new();
    let pods: Vec<ServerProcess> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|ip| cluster.pod(ip))
        .collect();
    let records: Vec<(&str, u16)> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .zip(&pods)
        .map(|(ip, p)| (*ip, p.addr.port()))
        .collect();
    let _dns = cluster.dns(&headless_service(&records));

    // The full SRV name, the service's DNS name, and the short name through the
    // Kubernetes search list (ndots:5): all reach a pod over mTLS.
    for name in [
        format!("_pingpong._udp.{SVC}"),
        SVC.to_string(),
        "pingpong".to_string(),
    ] {
        let out = cluster.pingpong(&["client", "--dns", &name, "-c", "2", "-i", "0.01"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", describe(&out));
        assert!(
            stdout.lines().next().unwrap().contains(&format!(".{SVC}:")),
            "{stdout}"
        );
        assert!(stdout.contains("via dns"), "{stdout}");
        assert!(
            stdout.contains("2 pings transmitted, 2 received"),
            "{stdout}"
        );
    }

    // PINGPONG_DNS alone is enough (what a client pod's manifest sets).
    let out = cluster
        .netns
        .command(bin())
        .args(["client", "-c", "1"])
        .env("PINGPONG_HOME", &cluster.home)
        .env("PINGPONG_DNS", "pingpong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // The resolve_srv example prints them in RFC 2782 order.
    let out = cluster
        .netns
        .command(&example("resolve_srv"))
        .args([
            &format!("_pingpong._udp.{SVC}"),
            "--dns-server",
            "127.0.0.1:53",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout.contains("3 target(s)"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("priority 0 weight 33 -> 127.0.0."))
            .count(),
        3,
        "{stdout}"
    );

    // discover lists the three pods with their SRV records.
    let out = cluster.pingpong(&["discover", "--dns", "pingpong", "--json", "--timeout", "1"]);
    let found: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(found.len(), 3, "{}", describe(&out));
    for pod in &found {
        assert_eq!(pod["source"], "dns");
        assert!(pod["host"].as_str().unwrap().ends_with(SVC));
    }
}

/// Pings 300 times every 10 ms with `client_args` (a DNS source), SIGKILLs the
/// pod serving after 50 pongs: the client hedges to the other one and
/// switches, every seq answered exactly once.
fn serving_pod_killed(
    cluster: &Cluster,
    pods: &mut [ServerProcess],
    ips: &[&str],
    client_args: &[&str],
) {
    let count = 300;
    let mut command = cluster.netns.command(bin());
    command
        .arg("client")
        .args(client_args)
        .args(["--json", "-i", "0.01", "-c", &count.to_string()])
        .env("PINGPONG_HOME", &cluster.home)
        .env_remove("PINGPONG_DNS");
    let mut client = JsonClient::spawn(command);
    let connected = client.until("connected");
    let serving = ips
        .iter()
        .position(|ip| connected["remote"].as_str().unwrap().starts_with(ip))
        .unwrap_or_else(|| panic!("{connected}"));
    let seen = client.pong_seqs(50);
    send_signal(&pods[serving].child, libc::SIGKILL);
    pods[serving].child.wait().unwrap();
    let (summary, events, status) = client.finish();
    assert_nothing_lost(&summary, count);
    assert_eq!(status, Some(0), "{summary}");
    all_answered_once(seen, &events, count);
    let reconnected = events.iter().find(|e| e["event"] == "reconnected").unwrap();
    assert!(
        reconnected["remote"]
            .as_str()
            .unwrap()
            .starts_with(ips[1 - serving]),
        "{reconnected}"
    );
    assert!(summary["failovers"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["hedged"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn the_serving_pod_killed_is_hedged_to_the_other_through_srv_with_nothing_lost() {
    let cluster = Cluster::new();
    let ips = ["127.0.0.2", "127.0.0.3"];
    let mut pods: Vec<ServerProcess> = ips.iter().map(|ip| cluster.pod(ip)).collect();
    let records: Vec<(&str, u16)> = ips
        .iter()
        .zip(&pods)
        .map(|(ip, p)| (*ip, p.addr.port()))
        .collect();
    let _dns = cluster.dns(&headless_service(&records));
    serving_pod_killed(&cluster, &mut pods, &ips, &["--dns", "pingpong"]);
}

#[test]
fn the_serving_instance_killed_is_hedged_to_the_other_through_dns_sd_with_nothing_lost() {
    let cluster = Cluster::new();
    let ips = ["127.0.0.5", "127.0.0.6"];
    let mut pods: Vec<ServerProcess> = ips.iter().map(|ip| cluster.pod(ip)).collect();
    // Two instances; their host names are both in the server certificate.
    let records: String = ["web1", "notxt"]
        .iter()
        .zip(ips.iter().zip(&pods))
        .map(|(host, (ip, pod))| {
            format!(
                "ptr-record=_pingpong._udp.example.test,{host}._pingpong._udp.example.test\n\
                 srv-host={host}._pingpong._udp.example.test,{host}.example.test,{}\n\
                 txt-record={host}._pingpong._udp.example.test,\"v=1\",\"state=serving\"\n\
                 host-record={host}.example.test,{ip}\n",
                pod.addr.port()
            )
        })
        .collect();
    let _dns = cluster.dns(&records);
    serving_pod_killed(&cluster, &mut pods, &ips, &["--dns-sd", "example.test"]);
}

#[test]
fn priority_zero_all_down_falls_back_to_priority_ten() {
    let cluster = Cluster::new();
    let backup = cluster.pod("127.0.0.9");
    // Two priority-0 targets where nothing listens (bound sockets that never answer).
    let dead: Vec<std::net::UdpSocket> = (0..2)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut records = String::new();
    for (i, socket) in dead.iter().enumerate() {
        let _ = socket;
        records.push_str(&format!("srv-host=_pingpong._udp.{SVC},dead-{i}.{SVC},{},0,50\nhost-record=dead-{i}.{SVC},127.0.0.{}\n", 9000 + i, 20 + i));
    }
    records.push_str(&format!("srv-host=_pingpong._udp.{SVC},backup.{SVC},{},10,100\nhost-record=backup.{SVC},127.0.0.9\n", backup.addr.port()));
    let _dns = cluster.dns(&records);
    let out = cluster.pingpong(&["client", "--dns", SVC, "-c", "1", "--connect-timeout", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout.contains(&format!("backup.{SVC}")), "{stdout}");
    // The priority-0 targets were tried first; the backup was raced in after the
    // attempt delay (RFC 8305) and won, so no time was lost waiting for them.
    assert!(!stderr.contains("skipping backup"), "{stderr}");
}

#[test]
fn a_pod_removed_from_dns_disappears_after_the_ttl() {
    let cluster = Cluster::new();
    let a = cluster.pod("127.0.0.2");
    let b = cluster.pod("127.0.0.3");
    let dns = cluster.dns(&headless_service(&[
        ("127.0.0.2", a.addr.port()),
        ("127.0.0.3", b.addr.port()),
    ]));
    let mut watch = cluster
        .netns
        .command(bin())
        .args(["discover", "--dns", SVC, "--watch", "--json"])
        .env("PINGPONG_HOME", &cluster.home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut next =
        || -> Value { serde_json::from_str(&lines.next().expect("watch ended").unwrap()).unwrap() };
    assert_eq!(next()["event"], "added");
    assert_eq!(next()["event"], "added");
    // pod-1 goes away (dnsmasq must be restarted to change SRV records).
    let removed_at = Instant::now();
    let _dns = dns.restart_with(
        &cluster.netns,
        &headless_service(&[("127.0.0.2", a.addr.port())]),
    );
    let mut removed = None;
    while removed.is_none() {
        let event = next();
        if event["event"] == "removed" {
            removed = Some(event);
        }
    }
    let removed = removed.unwrap();
    assert_eq!(removed["host"], format!("pod-1.{SVC}"));
    // TTL 5 s: gone within the TTL plus one refresh (about 6 s), not at the
    // 300 s ceiling of a refresh that ignored the TTL. The bound sits far from
    // both, so a loaded machine cannot fail it and a TTL ignored still does.
    assert!(
        removed_at.elapsed() < Duration::from_secs(60),
        "took {:?}",
        removed_at.elapsed()
    );
    send_signal(&watch, libc::SIGINT);
    watch.wait().unwrap();
}

#[test]
fn unicast_dns_sd_browses_ptr_then_srv_and_txt() {
    let cluster = Cluster::new();
    let web1 = cluster.pod("127.0.0.5");
    let _dns = cluster.dns(&format!(
        "ptr-record=_pingpong._udp.example.test,web1._pingpong._udp.example.test\n\
         srv-host=web1._pingpong._udp.example.test,web1.example.test,{}\n\
         txt-record=web1._pingpong._udp.example.test,\"V=1\",\"path=/pingpong\",\"state=serving\",\"flag\"\n\
         host-record=web1.example.test,127.0.0.5\n",
        web1.addr.port()
    ));
    let out = cluster.pingpong(&[
        "discover",
        "--dns-sd",
        "example.test",
        "--json",
        "--timeout",
        "1",
    ]);
    let found: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(found.len(), 1, "{}", describe(&out));
    assert_eq!(found[0]["instance"], "web1");
    assert_eq!(found[0]["source"], "dns-sd", "told apart from SRV");
    assert_eq!(found[0]["version"], 1, "TXT keys are case-insensitive");
    assert_eq!(found[0]["state"], "serving");
    let out = cluster.pingpong(&[
        "client",
        "--dns-sd",
        "example.test",
        "-c",
        "2",
        "-i",
        "0.01",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("server \"127.0.0.5\""));
}

#[test]
fn dns_sd_instance_names_with_spaces_work_end_to_end() {
    let cluster = Cluster::new();
    let web1 = cluster.pod("127.0.0.5");
    let web2 = cluster.pod("127.0.0.6");
    // dnsmasq takes names with spaces in quotes (its man page's DNS-SD
    // example). It serves its configured names in lower case (and would
    // IDNA-encode UTF-8 ones), so case and UTF-8 labels are checked by the
    // unit tests on wire names (`instances_are_their_first_label_as_utf8`).
    let _dns = cluster.dns(&format!(
        "ptr-record=_pingpong._udp.example.test,\"Living Room._pingpong._udp.example.test\"\n\
         srv-host=\"Living Room._pingpong._udp.example.test\",web1.example.test,{}\n\
         txt-record=\"Living Room._pingpong._udp.example.test\",\"v=1\",\"state=serving\"\n\
         host-record=web1.example.test,127.0.0.5\n\
         ptr-record=_pingpong._udp.example.test,\"Drucker Flur 3._pingpong._udp.example.test\"\n\
         srv-host=\"Drucker Flur 3._pingpong._udp.example.test\",notxt.example.test,{}\n\
         host-record=notxt.example.test,127.0.0.6\n",
        web1.addr.port(),
        web2.addr.port()
    ));
    let out = cluster.pingpong(&["discover", "--dns-sd", "example.test", "--json"]);
    let found: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let mut instances: Vec<String> = found
        .iter()
        .map(|c| c["instance"].as_str().unwrap().to_lowercase())
        .collect();
    instances.sort_unstable();
    assert_eq!(
        instances,
        ["drucker flur 3", "living room"],
        "{}",
        describe(&out)
    );
    let out = cluster.pingpong(&[
        "client",
        "--dns-sd",
        "example.test",
        "-c",
        "2",
        "-i",
        "0.01",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn a_dns_sd_zone_with_too_many_instances_is_looked_up_to_the_cap() {
    let cluster = Cluster::new();
    let mut records = String::new();
    for i in 0..300 {
        records.push_str(&format!(
            "ptr-record=_pingpong._udp.flood.test,i{i}._pingpong._udp.flood.test\n\
             srv-host=i{i}._pingpong._udp.flood.test,h{i}.flood.test,{}\n\
             txt-record=i{i}._pingpong._udp.flood.test,\"v=1\"\n\
             host-record=h{i}.flood.test,127.0.1.{}\n",
            5000 + i,
            i % 250 + 1
        ));
    }
    let _dns = cluster.dns(&records);
    let out = cluster.pingpong(&[
        "discover",
        "--dns-sd",
        "flood.test",
        "--json",
        "--timeout",
        "3",
    ]);
    let found = json_array(&out);
    assert_eq!(
        found.len(),
        pingpong::discovery::dns::resolver::MAX_BROWSE_INSTANCES,
        "{}",
        describe(&out)
    );
}

#[test]
fn discover_with_no_dns_answer_is_an_error_like_the_client() {
    let cluster = Cluster::new();
    let out = cluster.pingpong(&[
        "discover",
        "--dns",
        "x.cluster.local",
        "--dns-server",
        "127.0.0.1:5398",
        "--dns-timeout",
        "1",
        "--timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("pingpong: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(
            "pingpong: error: no server found: no answer from the DNS server at 127.0.0.1:5398"
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

#[test]
fn each_dns_failure_is_one_clear_line() {
    let cluster = Cluster::new();
    let pod = cluster.pod("127.0.0.6");
    let _dns = cluster.dns(&format!(
        "txt-record=_pingpong._udp.nodata.{SVC_BASE},\"v=1\"\n\
         srv-host=_pingpong._udp.noaddr.{SVC_BASE},nowhere.{SVC_BASE},4433\n\
         srv-host=_pingpong._udp.unavailable.{SVC_BASE},.,0\n\
         srv-host=_pingpong._udp.badtxt.{SVC_BASE},badtxt-pod.{SVC},{port}\n\
         host-record=badtxt-pod.{SVC},127.0.0.6\n\
         txt-record=_pingpong._udp.badtxt.{SVC_BASE},\"v=banana\"\n",
        port = pod.addr.port()
    ));
    let client = |name: &str, extra: &[&str]| {
        let mut args = if let Some(domain) = name.strip_prefix("dns-sd:") {
            vec!["client", "--dns-sd", domain, "-c", "1"]
        } else {
            vec!["client", "--dns", name, "-c", "1"]
        };
        args.extend_from_slice(extra);
        let started = Instant::now();
        let out = cluster.pingpong(&args);
        (out, started.elapsed())
    };
    for (name, extra, want) in [
        (
            "nope.default.svc.cluster.local",
            vec![],
            "does not exist (NXDOMAIN)",
        ),
        (
            "nodata.default.svc.cluster.local",
            vec![],
            "has no SRV records (NODATA)",
        ),
        ("noaddr.default.svc.cluster.local", vec![], "has an address"),
        // Outside Kubernetes, no Kubernetes advice; DNS-SD in its own terms.
        (
            "nope.example.test",
            vec![],
            "does not exist (NXDOMAIN): check the name (short names are completed with the search list of /etc/resolv.conf)",
        ),
        (
            "dns-sd:empty.example.test",
            vec![],
            "no PTR records at _pingpong._udp.empty.example.test: are pingpong servers registered in that DNS-SD domain?",
        ),
        (
            "unavailable.default.svc.cluster.local",
            vec![],
            "not available here",
        ),
        (
            "x.cluster.local",
            vec!["--dns-server", "127.0.0.1:5399", "--dns-timeout", "1"],
            "no answer from the DNS server at 127.0.0.1:5399",
        ),
    ] {
        let (out, took) = client(name, &extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", describe(&out));
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("pingpong: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{name}: {stderr}");
        assert!(errors[0].contains(want), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        // An answer ends it at once; the bound only tells a hang from an
        // exit, and is loose enough that load cannot fail it.
        assert!(took < Duration::from_secs(30), "{name} took {took:?}");
    }
    // A silent DNS server (a socket that never answers): the same message, after
    // the timeout, not a hang.
    let mut silent = cluster
        .netns
        .command("python3")
        .args(["-c", "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 5397)); print('ready', flush=True); sys.stdin.read()"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(silent.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let (out, took) = client(
        "x.cluster.local",
        &["--dns-server", "127.0.0.1:5397", "--dns-timeout", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no answer from the DNS server at 127.0.0.1:5397 within 1s"),
        "{}",
        describe(&out)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let _ = silent.kill();
    let _ = silent.wait();
    // A malformed TXT is a warning; the server behind it is still reached.
    let (out, _) = client("badtxt.default.svc.cluster.local", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("malformed TXT ignored"),
        "{}",
        describe(&out)
    );
    // discover: with nothing found, the failed lookup is the answer, an
    // error as for the client.
    let out = cluster.pingpong(&[
        "discover",
        "--dns",
        "nope.default.svc.cluster.local",
        "--timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pingpong: error: no server found: _pingpong._udp.nope.default.svc.cluster.local does not exist (NXDOMAIN)"),
        "{stderr}"
    );
}

const SVC_BASE: &str = "default.svc.cluster.local";

/// The SRV owner name of deploy/kubernetes/service.yaml in namespace `ns`.
fn srv_name_from_manifest(ns: &str) -> String {
    let python = std::env::var_os("PINGPONG_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python")
        });
    assert!(
        python.exists(),
        "{} not found: run scripts/test",
        python.display()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python)
        .arg(root.join("tests/interop/check_manifests.py"))
        .arg(root.join("deploy/kubernetes"))
        .args(["--srv", ns])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_service_manifest_as_coredns_serves_it_reaches_all_three_pods() {
    let name = srv_name_from_manifest("default");
    assert_eq!(name, format!("_pingpong._udp.{SVC}"));
    let cluster = Cluster::new();
    let ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    let pods: Vec<ServerProcess> = ips.iter().map(|ip| cluster.pod(ip)).collect();
    // What CoreDNS serves for three ready pods of a StatefulSet: SRV per pod,
    // priority 0, weight floor(100/3), TTL 5, host names <pod>.<svc>.<ns>.svc.<zone>.
    let records: String = ips
        .iter()
        .zip(&pods)
        .enumerate()
        .map(|(i, (ip, pod))| {
            format!(
                "srv-host={name},pingpong-{i}.{SVC},{},0,33\nhost-record=pingpong-{i}.{SVC},{ip}\n",
                pod.addr.port()
            )
        })
        .collect();
    let _dns = cluster.dns(&records);
    let mut reached = std::collections::HashSet::new();
    for _ in 0..40 {
        let out = cluster.pingpong(&["client", "--dns", &name, "-c", "1"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let header = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let pod = header
            .split("https://")
            .nth(1)
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        reached.insert(pod);
        if reached.len() == 3 {
            break;
        }
    }
    // Equal weights: each of 40 tries misses a given pod with probability 2/3,
    // so not reaching all three would take odds of about 1 in 100,000.
    assert_eq!(reached.len(), 3, "{reached:?}");
}
