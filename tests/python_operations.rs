//! The Python server as an operator sees it, next to the Rust server: the same
//! operations endpoint (`--metrics`: /healthz, /readyz turning 503 as a drain
//! starts, /metrics with the same metric families, types and values), so that
//! the Kubernetes manifests' probes, PodMonitor and alerts fit either image.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::http::{get, metric, metrics_addr};
use common::*;
use pingpong::client::Connector;
use pingpong::discovery::parse_target;
use pingpong::tls::{LeafRole, TlsMaterial};

/// What an exposition declares (`# TYPE name kind`) and the sample names it
/// carries with their label keys (values left out).
fn shape(body: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let types = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(str::to_string)
        .collect();
    let samples = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let name = l.split_whitespace().next().unwrap();
            match name.split_once('{') {
                Some((family, labels)) => {
                    let keys: Vec<&str> = labels
                        .trim_end_matches('}')
                        .split(',')
                        .map(|kv| kv.split('=').next().unwrap())
                        .collect();
                    format!("{family}{{{}}}", keys.join(","))
                }
                None => name.to_string(),
            }
        })
        .collect();
    (types, samples)
}

fn metrics(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn the_python_servers_operations_endpoint_matches_the_rust_servers() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut rust_args = strings(&["--metrics", "127.0.0.1:0", "--max-sessions", "4000"]);
    rust_args.extend(tls_args(&paths, LeafRole::Server));
    let rust = ServerProcess::start(&rust_args, &[]);
    let rust_ops = metrics_addr(&rust);
    let mut python = ServerProcess::start_python(
        &paths,
        &[
            "--metrics",
            "127.0.0.1:0",
            "--max-sessions",
            "4000",
            "--drain-timeout",
            "3",
        ],
    );
    let python_ops = metrics_addr(&python);

    // The same traffic on both: three pings, and one client of another CA.
    let rogue = pki(&dir.path().join("rogue"), "rogue");
    for server in [&rust, &python] {
        let mut args = strings(&[&server.url(), "-c", "3", "-i", "0"]);
        args.extend(tls_args(&paths, LeafRole::Client));
        assert_eq!(client(&args).status.code(), Some(0));
        let rogue_args = foreign_client_args(&server.url(), &rogue, &paths.ca_cert());
        assert_eq!(client(&rogue_args).status.code(), Some(2));
    }
    rust.wait_for_log(
        "connection refused during handshake",
        Duration::from_secs(10),
    );
    python.wait_for_log(
        "connection refused during handshake",
        Duration::from_secs(10),
    );

    let (rust_body, python_body) = (metrics(rust_ops), metrics(python_ops));
    let (types, samples) = shape(&rust_body);
    assert!(types.contains("pingpong_refused counter"), "{types:?}");
    assert!(
        samples.contains("pingpong_refused_total{reason}"),
        "{samples:?}"
    );
    assert!(samples.len() >= 9, "{samples:?}");
    assert_eq!(
        shape(&python_body),
        (types, samples),
        "Python:\n{python_body}\nRust:\n{rust_body}"
    );
    for name in [
        "pingpong_pings_total",
        "pingpong_sessions_max",
        "pingpong_sessions_open",
        "pingpong_draining",
        "pingpong_refused_total{reason=\"tls\"}",
        "pingpong_certificate_not_after_seconds",
    ] {
        assert_eq!(
            metric(&python_body, name),
            metric(&rust_body, name),
            "{name}: Python:\n{python_body}\nRust:\n{rust_body}"
        );
    }
    assert_eq!(metric(&python_body, "pingpong_pings_total"), 3.0);
    for ops in [rust_ops, python_ops] {
        assert_eq!(get(ops, "/healthz"), (200, "ok\n".to_string()));
        assert_eq!(get(ops, "/readyz"), (200, "ready\n".to_string()));
    }

    // A session that ignores the drain keeps it going for --drain-timeout:
    // meanwhile /readyz says 503 and the process is alive.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _held = runtime.block_on(async {
        let connector =
            Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None).unwrap();
        let session = connector
            .open_candidate(&parse_target(&python.url()).unwrap())
            .await
            .unwrap();
        (connector, session)
    });
    python.signal(libc::SIGTERM);
    python.wait_for_log("draining", Duration::from_secs(10));
    assert_eq!(get(python_ops, "/readyz"), (503, "draining\n".to_string()));
    assert_eq!(metric(&metrics(python_ops), "pingpong_draining"), 1.0);
    assert_eq!(get(python_ops, "/healthz").0, 200, "alive while draining");
    assert_eq!(python.wait_exit(Duration::from_secs(15)).code(), Some(0));
}

/// The long flags a `--help` text lists.
fn flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            l.strip_prefix("--").map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                format!("--{name}")
            })
        })
        .collect()
}

#[test]
fn the_python_server_takes_the_rust_servers_flags() {
    let home = tempfile::tempdir().unwrap();
    let rust = std::process::Command::new(bin())
        .args(["server", "--help"])
        .env("PINGPONG_HOME", home.path())
        .output()
        .unwrap();
    let python = std::process::Command::new(python_server_bin())
        .arg("--help")
        .output()
        .unwrap();
    let (rust, python) = (
        flags(&String::from_utf8_lossy(&rust.stdout)),
        flags(&String::from_utf8_lossy(&python.stdout)),
    );
    assert!(rust.len() >= 20, "{rust:?}");
    // `pingpong --version` is the binary's, `pingpong-server --version` its own.
    let python: BTreeSet<String> = python.into_iter().filter(|f| f != "--version").collect();
    assert_eq!(python, rust);
}
