//! The operations endpoint: /healthz, /readyz (503 while draining) and
//! /metrics (Prometheus text), on its own TCP port.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{get, metric, metrics_addr};
use common::*;
use pingpong::tls::LeafRole;

#[test]
fn health_readiness_and_metrics_follow_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut args = strings(&["--metrics", "127.0.0.1:0", "--drain-timeout", "10"]);
    args.extend(tls_args(&paths, LeafRole::Server));
    let mut server = ServerProcess::start(&args, &[]);
    let addr = metrics_addr(&server);
    assert_eq!(get(addr, "/healthz").0, 200);
    assert_eq!(get(addr, "/readyz").0, 200);
    assert_eq!(get(addr, "/nope").0, 404);

    // A client pings five times; a second comes with an untrusted certificate.
    let mut client_args = strings(&[&server.url(), "-c", "5", "-i", "0"]);
    client_args.extend(tls_args(&paths, LeafRole::Client));
    assert_eq!(client(&client_args).status.code(), Some(0));
    let rogue = pki(&dir.path().join("rogue"), "rogue");
    let rogue_args = foreign_client_args(&server.url(), &rogue, &paths.ca_cert());
    assert_eq!(client(&rogue_args).status.code(), Some(2));
    server.wait_for_log(
        "connection refused during handshake",
        Duration::from_secs(10),
    );

    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(metric(&body, "pingpong_sessions_total"), 1.0, "{body}");
    assert_eq!(metric(&body, "pingpong_pings_total"), 5.0, "{body}");
    assert_eq!(
        metric(&body, "pingpong_refused_total{reason=\"tls\"}"),
        1.0,
        "{body}"
    );
    assert_eq!(metric(&body, "pingpong_draining"), 0.0, "{body}");
    assert!(body.contains("pingpong_build_info{version=\""), "{body}");
    let not_after = pingpong::tls::inspect::CertInfo::from_file(&paths.leaf_cert(LeafRole::Server))
        .unwrap()
        .not_after
        .unix_timestamp();
    assert_eq!(
        metric(&body, "pingpong_certificate_not_after_seconds"),
        not_after as f64,
        "{body}"
    );

    // Draining (a session is open, so the drain lasts): /readyz turns 503.
    let (mut holder, mut lines) =
        endless_client(server.url().as_str(), &paths, &["--reconnect-timeout", "0"]);
    assert!(lines.next().unwrap().unwrap().starts_with("PINGPONG"));
    server.signal(libc::SIGTERM);
    server.wait_for_log("draining", Duration::from_secs(10));
    let (status, _) = get(addr, "/readyz");
    assert_eq!(status, 503);
    assert_eq!(metric(&get(addr, "/metrics").1, "pingpong_draining"), 1.0);
    assert_eq!(get(addr, "/healthz").0, 200, "alive while draining");
    let _ = holder.wait();
    assert_eq!(server.wait_exit(Duration::from_secs(15)).code(), Some(0));
}

#[test]
fn the_server_runs_in_a_bare_container_like_environment() {
    // What the image gives it: no $HOME, no environment at all, certificates on
    // a read-only mount (a private mount namespace here), nothing to write.
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("certs"), "ca");
    let certs = paths.dir().display().to_string();
    let script = format!(
        "mount --bind -o ro {certs} {certs} && exec \"$0\" server --no-mdns --listen 127.0.0.1:0 \
         --cert {certs}/server.pem --key {certs}/server.key --ca {certs}/ca.pem"
    );
    let mut command = std::process::Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            bin(),
        ])
        .env_clear();
    let server = ServerProcess::spawn(command);
    let mut args = strings(&[&server.url(), "-c", "2", "-i", "0.01"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nserver: {}",
        describe(&out),
        server.logs()
    );
    // Nothing was written next to the certificates.
    assert_eq!(
        std::fs::read_dir(paths.dir()).unwrap().count(),
        6,
        "the server wrote into its certificate mount"
    );
}

#[test]
fn web_metrics_count_pings_per_monitored_server() {
    if rerun_in_netns("web_metrics_count_pings_per_monitored_server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pingpong::tls::store::init_single_host(&pingpong::tls::CertPaths::new(dir.path()), "ca", 30)
        .unwrap();
    let env = [("PINGPONG_HOME", dir.path())];
    let _server = ServerProcess::start_advertising_here(&strings(&["--instance", "alpha"]), &env);
    let mut agent = std::process::Command::new(bin())
        .args(["web", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
        .env("PINGPONG_HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(agent.stdout.take().unwrap()));
    let addr: SocketAddr = loop {
        let line = lines.next().expect("the agent exited").unwrap();
        if let Some(rest) = line.strip_prefix("pingpong web metrics on http://") {
            break rest.trim_end_matches("/metrics").parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    // The monitor pings once a second: wait (bounded) for the series to count.
    let sent = r#"pingpong_web_pings_sent_total{instance="alpha""#;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, 200, "{body}");
        if body
            .lines()
            .find(|l| l.starts_with(sent))
            .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .is_some_and(|n| n >= 2.0)
        {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pings counted:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        body.contains(r#"pingpong_web_session_up{instance="alpha""#),
        "{body}"
    );
    assert!(
        body.contains(r#"pingpong_web_sessions_total{instance="alpha""#),
        "{body}"
    );
    assert_eq!(get(addr, "/nope").0, 404);
    let _ = agent.kill();
    let _ = agent.wait();
}
