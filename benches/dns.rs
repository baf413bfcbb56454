//! DNS discovery timings against a local dnsmasq serving a Kubernetes-shaped
//! headless Service (three pods), next to `dig` in the same run:
//!
//! 1. SRV + address resolution with pingpong's resolver (in process, a fresh
//!    resolver each time so nothing is cached);
//! 2. the same question asked with `dig` (a process per query; its own reported
//!    query time too);
//! 3. `pingpong client --dns NAME -c 1`: process start to first pong;
//! 4. `pingpong discover --dns NAME`: process start to its snapshot.
//!
//! The benchmark re-runs itself inside a network namespace it creates (root
//! needed), where dnsmasq owns 127.0.0.1:53. `cargo bench --bench dns`.

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "common/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pingpong::discovery::dns::{DnsConfig, DnsQuery, DnsResolver};

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");
const NAME: &str = "pingpong.default.svc.cluster.local";

fn main() {
    netns::reexec_inside();
    inside();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn inside() {
    let quick = std::env::var_os("PINGPONG_BENCH_QUICK").is_some();
    let dir = tempfile::tempdir().unwrap();
    let paths = pingpong::tls::CertPaths::new(dir.path());
    pingpong::tls::store::init_single_host(&paths, "dns bench CA", 30).unwrap();
    // A server certificate for every pod name.
    let ca = pingpong::tls::store::load_ca(&paths).unwrap();
    let leaf = pingpong::tls::generate::issue_leaf(
        &ca,
        pingpong::tls::LeafRole::Server,
        "pingpong",
        &[format!("*.{NAME}")],
        pingpong::tls::generate::Validity::days(30),
    )
    .unwrap();
    pingpong::tls::store::write_file(
        &paths.leaf_cert(pingpong::tls::LeafRole::Server),
        &leaf.cert,
        false,
        true,
    )
    .unwrap();
    pingpong::tls::store::write_file(
        &paths.leaf_key(pingpong::tls::LeafRole::Server),
        &leaf.key,
        true,
        true,
    )
    .unwrap();

    let mut servers = Vec::new();
    let mut records = String::new();
    for i in 0..3 {
        let ip = format!("127.0.0.{}", i + 2);
        let mut child = Command::new(PINGPONG)
            .args(["server", "--no-mdns", "--listen", &format!("{ip}:0")])
            .env("PINGPONG_HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr: SocketAddr = line
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        records.push_str(&format!(
            "srv-host=_pingpong._udp.{NAME},pod-{i}.{NAME},{},0,33\nhost-record=pod-{i}.{NAME},{ip}\n",
            addr.port()
        ));
        servers.push(child);
    }
    let conf = dir.path().join("dnsmasq.conf");
    std::fs::write(
        &conf,
        format!("port=53\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-daemon\nlog-facility=-\nlocal=/cluster.local/\nlocal-ttl=5\n{records}"),
    )
    .unwrap();
    let mut dnsmasq = Command::new("dnsmasq")
        .args(["--pid-file=", "-C"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dnsmasq (apt-get install dnsmasq-base)");
    let mut lines = BufReader::new(dnsmasq.stderr.take().unwrap()).lines();
    while !lines
        .next()
        .expect("dnsmasq exited")
        .unwrap()
        .contains("started")
    {}
    std::thread::spawn(move || for _ in lines {});

    let rounds = if quick { 20 } else { 200 };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = DnsConfig {
        servers: vec!["127.0.0.1:53".parse().unwrap()],
        ..DnsConfig::default()
    };
    let query = DnsQuery::Srv(format!("_pingpong._udp.{NAME}"));
    let ours: Vec<Duration> = runtime.block_on(async {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let resolver = DnsResolver::new(&config).unwrap();
            let started = Instant::now();
            let found = resolver.resolve(&query).await.unwrap();
            times.push(started.elapsed());
            assert_eq!(found.candidates.len(), 3);
        }
        times
    });

    let dig_rounds = if quick { 10 } else { 50 };
    let (mut dig_wall, mut dig_reported) = (Vec::new(), Vec::new());
    for _ in 0..dig_rounds {
        let started = Instant::now();
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                "53",
                "+tries=1",
                "SRV",
                &format!("_pingpong._udp.{NAME}"),
            ])
            .output()
            .expect("dig (apt-get install bind9-dnsutils)");
        dig_wall.push(started.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("ANSWER: 3"), "{text}");
        let reported = text
            .lines()
            .find_map(|l| l.strip_prefix(";; Query time: "))
            .and_then(|l| l.trim_end_matches(" msec").parse::<u64>().ok())
            .unwrap();
        dig_reported.push(Duration::from_millis(reported));
    }

    let client_rounds = if quick { 5 } else { 20 };
    let mut first_pong = Vec::new();
    for _ in 0..client_rounds {
        let started = Instant::now();
        let mut client = Command::new(PINGPONG)
            .args([
                "client",
                "--dns",
                NAME,
                "--dns-server",
                "127.0.0.1",
                "-c",
                "1",
                "--json",
            ])
            .env("PINGPONG_HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reader = BufReader::new(client.stdout.take().unwrap());
        for line in reader.lines() {
            if line.unwrap().contains("\"event\":\"pong\"") {
                first_pong.push(started.elapsed());
                break;
            }
        }
        client.wait().unwrap();
    }
    assert_eq!(first_pong.len(), client_rounds, "some clients got no pong");

    // `discover --dns NAME`: a snapshot returns once the lookup has answered
    // (it used to wait out its whole --timeout of 2 s).
    let mut snapshots = Vec::new();
    for _ in 0..client_rounds {
        let started = Instant::now();
        let out = Command::new(PINGPONG)
            .args([
                "discover",
                "--dns",
                NAME,
                "--dns-server",
                "127.0.0.1",
                "--json",
            ])
            .env("PINGPONG_HOME", dir.path())
            .output()
            .unwrap();
        snapshots.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .matches("\"port\"")
                .count(),
            3
        );
    }

    println!();
    println!("DNS discovery against a local dnsmasq (3-pod headless Service), medians");
    println!(
        "{:<58} {:>12}",
        "pingpong resolver: SRV + addresses (additional section)",
        ms(median(ours))
    );
    println!(
        "{:<58} {:>12}",
        "dig: whole process (start, query, print)",
        ms(median(dig_wall))
    );
    println!(
        "{:<58} {:>12}",
        "dig: its reported query time (1 ms resolution)",
        ms(median(dig_reported))
    );
    println!(
        "{:<58} {:>12}",
        "pingpong client --dns NAME: process start to first pong",
        ms(median(first_pong))
    );
    println!(
        "{:<58} {:>12}",
        "pingpong discover --dns NAME: process start to snapshot",
        ms(median(snapshots))
    );

    let _ = dnsmasq.kill();
    let _ = dnsmasq.wait();
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
}
