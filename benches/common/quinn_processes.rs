//! Raw quinn in the shape of the binary's figures: an echo server process and
//! a client process, each this benchmark's own executable re-run in a role.
//! A round trip between two processes wakes a thread in each, which a round
//! trip inside one runtime may not, so the binary is compared with this.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use pingpong::tls::{CertPaths, LeafRole, TlsMaterial};

use crate::baselines::{quinn_echo_server, QuinnEcho};
use crate::rtt::percentile;

use crate::process::{self, Server};

/// Set in a child process: the role it plays (`echo` or `client`).
const ROLE: &str = "PINGPONG_BENCH_QUINN_ROLE";
/// The client's target (the echo server's address).
const TARGET: &str = "PINGPONG_BENCH_QUINN_TARGET";
/// The client's number of sequential echoes.
const COUNT: &str = "PINGPONG_BENCH_QUINN_COUNT";

fn material(role: LeafRole) -> TlsMaterial {
    let home = std::env::var("PINGPONG_HOME").expect("PINGPONG_HOME");
    TlsMaterial::from_dir(&CertPaths::new(home), role)
}

/// In a child process: plays its role and returns true; false in the
/// benchmark's own process.
pub async fn play_role() -> bool {
    match std::env::var(ROLE).as_deref() {
        Ok("echo") => {
            let addr = quinn_echo_server(&material(LeafRole::Server));
            println!("listening on {addr}");
            // Until the benchmark kills it.
            std::future::pending::<()>().await;
            true
        }
        Ok("client") => {
            let addr: SocketAddr = std::env::var(TARGET).unwrap().parse().unwrap();
            let count: u64 = std::env::var(COUNT).unwrap().parse().unwrap();
            let client = QuinnEcho::client_for(addr, &material(LeafRole::Client));
            let mut rtts = client.rtts_us(count).await;
            rtts.sort_by(f64::total_cmp);
            println!("{} {}", percentile(&rtts, 50.0), percentile(&rtts, 99.0));
            true
        }
        _ => false,
    }
}

/// The echo server as a process with the certificates of `home`.
pub fn start_echo(home: &Path) -> (Server, SocketAddr) {
    let (server, port) = process::spawn_server(
        Command::new(std::env::current_exe().unwrap()).env(ROLE, "echo"),
        home,
    );
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// `count` sequential echoes from a client process: p50 and p99 in µs.
pub fn sequential_us(home: &Path, echo: SocketAddr, count: u64) -> (f64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "client")
        .env(TARGET, echo.to_string())
        .env(COUNT, count.to_string())
        .env("PINGPONG_HOME", home)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert!(
        out.status.success() && figures.len() == 2,
        "quinn client process: {text:?}"
    );
    (figures[0], figures[1])
}
