//! Wide-area registration timings against a local BIND 9, each next to its
//! baseline measured in the same run:
//!
//! 1. `pingpong server --register-dns lab.test`: process start to its records
//!    answered by named, next to process start to its "listening" line;
//! 2. `pingpong client --dns-sd lab.test -c 1`: process start to first pong,
//!    next to the same client given the server's URL (target: < 50 ms, and
//!    the DNS-SD browse costs a few milliseconds over the URL).
//!
//! It re-runs itself inside a network namespace it creates (root needed),
//! where named owns 127.0.0.1:53. `sudo cargo bench --bench wide_area`
//! (`PINGPONG_BENCH_QUICK=1` for a short run).

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "../tests/common/named.rs"]
#[allow(dead_code)] // the tests use the rest
mod named;
#[path = "common/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");

fn main() {
    netns::reexec_inside();
    inside();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn inside() {
    let runs = if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
        5
    } else {
        30
    };
    let dir = tempfile::tempdir().unwrap();
    let launch = |program: &str| Command::new(program);
    let named = named::Named::start(&launch, dir.path(), &["127.0.0.1"]);
    let home = dir.path().join("home");
    let paths = pingpong::tls::CertPaths::new(&home);
    pingpong::tls::store::init_single_host(&paths, "wide-area bench CA", 30).unwrap();
    let ca = pingpong::tls::store::load_ca(&paths).unwrap();
    let leaf = pingpong::tls::generate::issue_leaf(
        &ca,
        pingpong::tls::LeafRole::Server,
        "web1",
        &["web1.lab.test".into()],
        pingpong::tls::generate::Validity::days(30),
    )
    .unwrap();
    let role = pingpong::tls::LeafRole::Server;
    pingpong::tls::store::write_file(&paths.leaf_cert(role), &leaf.cert, false, true).unwrap();
    pingpong::tls::store::write_file(&paths.leaf_key(role), &leaf.key, true, true).unwrap();
    let key = named.key.display().to_string();
    let server_args = [
        "server",
        "--no-mdns",
        "--listen",
        "127.0.0.1:4433",
        "--instance",
        "web1",
        "--register-dns",
        "lab.test",
        "--register-server",
        "127.0.0.1",
        "--tsig-key",
        &key,
    ];

    let mut listening = Vec::new();
    let mut registered = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut server = Command::new(PINGPONG)
            .args(server_args)
            .env("PINGPONG_HOME", &home)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        while !lines.next().unwrap().unwrap().contains("listening on") {}
        listening.push(started.elapsed());
        wait_for_ptr(true);
        registered.push(started.elapsed());
        stop(&mut server);
        wait_for_ptr(false);
    }
    println!("server start (median of {runs}):");
    println!(
        "  to its \"listening\" line (baseline)    {}",
        ms(median(listening.clone()))
    );
    println!(
        "  to its records answered by named       {} ({:.2}x)",
        ms(median(registered.clone())),
        median(registered).as_secs_f64() / median(listening).as_secs_f64()
    );

    let mut server = Command::new(PINGPONG)
        .args(server_args)
        .args(["--register-refresh", "3600"])
        .env("PINGPONG_HOME", &home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_ptr(true);
    let url = [
        "https://127.0.0.1:4433/pingpong",
        "--server-name",
        "web1.lab.test",
    ];
    let browse = ["--dns-sd", "lab.test", "--dns-server", "127.0.0.1"];
    let mut by_url = Vec::new();
    let mut by_dns_sd = Vec::new();
    for _ in 0..runs {
        by_url.push(first_pong(&home, &url));
        by_dns_sd.push(first_pong(&home, &browse));
    }
    println!("client start to first pong (median of {runs}):");
    println!(
        "  given the URL (baseline)               {}",
        ms(median(by_url.clone()))
    );
    println!(
        "  --dns-sd lab.test                      {} ({:.2}x; target < 50 ms)",
        ms(median(by_dns_sd.clone())),
        median(by_dns_sd).as_secs_f64() / median(by_url).as_secs_f64()
    );
    stop(&mut server);
}

/// Process start to the first pong line of `client -c 1 ARGS`.
fn first_pong(home: &std::path::Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let mut client = Command::new(PINGPONG)
        .args(["client", "-c", "1"])
        .args(args)
        .env("PINGPONG_HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let took = lines
        .map_while(Result::ok)
        .find(|line| line.contains("seq="))
        .map(|_| started.elapsed());
    let _ = client.wait();
    took.unwrap_or_else(|| panic!("client {args:?} printed no pong"))
}

/// SIGTERM, then waits for the exit (the records leave with it).
fn stop(child: &mut Child) {
    // SAFETY: kill(2) has no memory effects.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// Asks named for the browse PTR every millisecond until it is there (or
/// gone, with `present` false).
fn wait_for_ptr(present: bool) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect("127.0.0.1:53").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let name = Name::from_ascii("_pingpong._udp.lab.test.").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = [0u8; 2048];
    loop {
        let mut query = Message::new(rand::random(), MessageType::Query, OpCode::Query);
        query.add_query(Query::query(name.clone(), RecordType::PTR));
        socket.send(&query.to_vec().unwrap()).unwrap();
        if let Ok(len) = socket.recv(&mut buffer) {
            let answer = Message::from_vec(&buffer[..len]).unwrap();
            if answer.answers.is_empty() != present {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the records never became {}",
            if present { "visible" } else { "gone" }
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
