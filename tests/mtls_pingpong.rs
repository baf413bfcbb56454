//! Ping-pong over mTLS between real server and client processes on loopback,
//! and the errors a user gets when something is wrong.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::*;
use pingpong::tls::generate::Validity;
use pingpong::tls::LeafRole;

fn good_client(server: &ServerProcess, paths: &pingpong::tls::CertPaths) -> std::process::Output {
    let mut args = strings(&[&server.url(), "-c", "3", "-i", "0.01"]);
    args.extend(tls_args(paths, LeafRole::Client));
    client(&args)
}

fn assert_good_client_served(server: &ServerProcess, paths: &pingpong::tls::CertPaths) {
    let out = good_client(server, paths);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("3 pings transmitted, 3 received, 0% loss, 0 duplicates"));
}

#[test]
fn ping_pong_over_mtls_with_ping_style_output() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut args = strings(&[&server.url(), "-c", "5", "-i", "0.02", "-s", "100"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout.starts_with("PINGPONG https://127.0.0.1:"),
        "{stdout}"
    );
    for seq in 1..=5 {
        assert!(
            stdout.contains(&format!(
                "100 bytes from 127.0.0.1:{}: seq={seq} time=",
                server.addr.port()
            )),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("5 pings transmitted, 5 received, 0% loss, 0 duplicates"),
        "{stdout}"
    );
    assert!(stdout.contains("rtt min/avg/max/mdev = "), "{stdout}");
    // The server knows who the client is, and heard it leave (the client does
    // not wait out QUIC's draining period, but its close is sent).
    server.wait_for_log("client=pingpong-client", Duration::from_secs(10));
    server.wait_for_log("session closed by client", Duration::from_secs(10));
}

#[test]
fn quiet_and_flood_output_as_ping_does() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let run = |extra: &[&str]| {
        let mut args = strings(&[&server.url()]);
        args.extend(strings(extra));
        args.extend(tls_args(&paths, LeafRole::Client));
        let out = client(&args);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // -q: the header and the summary, nothing per ping.
    let quiet = run(&["-c", "5", "-i", "0.01", "-q"]);
    let lines: Vec<&str> = quiet.lines().collect();
    assert!(
        lines[0].starts_with("PINGPONG https://127.0.0.1:"),
        "{quiet}"
    );
    assert!(!quiet.contains("bytes from"), "{quiet}");
    assert!(
        quiet.contains("5 pings transmitted, 5 received, 0% loss"),
        "{quiet}"
    );
    // -f: a dot per ping sent, a backspace per pong (none lost: they cancel
    // out), as fast as the window allows.
    let flood = run(&["-c", "2000", "-f"]);
    let marks: String = flood
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{flood:?}"))
        .to_string();
    assert_eq!(marks.matches('.').count(), 2000, "{flood:?}");
    assert_eq!(marks.matches('\u{8}').count(), 2000, "{flood:?}");
    assert!(!flood.contains("bytes from"), "{flood:?}");
    assert!(
        flood.contains("2000 pings transmitted, 2000 received, 0% loss"),
        "{flood:?}"
    );
    // Flood output is for people: not with --json.
    let mut args = strings(&[&server.url(), "-f", "--json"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    assert_eq!(client(&args).status.code(), Some(2));
}

#[test]
fn json_output_is_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut args = strings(&[&server.url(), "-c", "4", "-i", "0", "--json"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines[0]["event"], "connected");
    assert_eq!(lines.iter().filter(|l| l["event"] == "pong").count(), 4);
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["transmitted"], 4);
    assert_eq!(summary["received"], 4);
    assert_eq!(summary["lost"], 0);
    assert_eq!(summary["duplicates"], 0);
    for key in ["min", "avg", "max", "p50", "p99"] {
        assert!(summary["rtt_ms"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    // Pings sent in one batch and answered in one batch share their RTT.
    assert!(summary["rtt_ms"]["mdev"].as_f64().unwrap() >= 0.0);
}

#[test]
fn client_certificate_rejections_are_explained_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("good"), "good CA");
    let rogue = pki(&dir.path().join("rogue"), "rogue CA");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);

    // A client certificate from another CA.
    let args = foreign_client_args(&server.url(), &rogue, &paths.ca_cert());
    expect_client_failure(
        &args,
        "the server rejected our client certificate: it is not signed by a CA the server trusts",
    );
    assert_good_client_served(&server, &paths);

    // An expired client certificate from the right CA.
    let (cert, key) = extra_leaf(
        &paths,
        dir.path(),
        "expired",
        LeafRole::Client,
        "old-client",
        &[],
        expired(),
    );
    let args = strings(&[
        &server.url(),
        "-c",
        "1",
        "--cert",
        &cert.display().to_string(),
        "--key",
        &key.display().to_string(),
        "--ca",
        &paths.ca_cert().display().to_string(),
    ]);
    // The pingpong client refuses it before connecting, with the date...
    let out = client(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.starts_with(&format!("pingpong: error: {} expired on ", cert.display())),
        "{stderr}"
    );
    // ...and a client that sends it anyway (the library has no such check) is
    // refused by the server, and told why.
    let material = pingpong::tls::TlsMaterial {
        cert: cert.clone(),
        key: key.clone(),
        ca: paths.ca_cert(),
    };
    let error = library_client_error(&server.url(), &material);
    assert!(
        error.contains("the server rejected our client certificate: it has expired"),
        "{error}"
    );
    assert_good_client_served(&server, &paths);

    // A server certificate used as a client certificate (wrong EKU).
    let args = strings(&[
        &server.url(),
        "-c",
        "1",
        "--cert",
        &paths.leaf_cert(LeafRole::Server).display().to_string(),
        "--key",
        &paths.leaf_key(LeafRole::Server).display().to_string(),
        "--ca",
        &paths.ca_cert().display().to_string(),
    ]);
    let stderr = expect_client_failure(&args, "the server rejected our client certificate");
    assert!(
        stderr.contains(
            "it is not a client certificate (no clientAuth EKU). Fix: use a client certificate"
        ),
        "{stderr}"
    );
    assert_good_client_served(&server, &paths);
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    assert_no_client_certificate_is_refused(&server, &paths);
    assert_good_client_served(&server, &paths);
}

#[test]
fn untrusted_server_certificates_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("good"), "good CA");
    let rogue = pki(&dir.path().join("rogue"), "rogue CA");

    // A server whose certificate comes from another CA (it trusts our clients).
    let mut server_args = tls_args(&rogue, LeafRole::Server);
    server_args[5] = paths.ca_cert().display().to_string();
    let server = ServerProcess::start(&server_args, &[]);
    let out = good_client(&server, &paths);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains(
            "the server's certificate is not trusted: it is not signed by the CA we trust"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--ca FILE"), "{stderr}");
    drop(server);

    // A server whose certificate carries another name.
    let (cert, key) = extra_leaf(
        &paths,
        dir.path(),
        "elsewhere",
        LeafRole::Server,
        "elsewhere",
        &["elsewhere.example"],
        Validity::days(30),
    );
    let server = ServerProcess::start_with_files(&cert, &key, &paths.ca_cert());
    let out = good_client(&server, &paths);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains("the server's certificate is not trusted: it is not valid for"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(it carries elsewhere.example)"),
        "{stderr}"
    );
    assert!(stderr.contains("--server-name"), "{stderr}");
    // Pinning the service name the certificate does carry works.
    let mut args = strings(&[
        &server.url(),
        "-c",
        "2",
        "-i",
        "0.01",
        "--server-name",
        "elsewhere.example",
    ]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    drop(server);

    // An expired server certificate.
    let (cert, key) = extra_leaf(
        &paths,
        dir.path(),
        "old-server",
        LeafRole::Server,
        "localhost",
        &["127.0.0.1"],
        expired(),
    );
    // `pingpong server` refuses to start with it, with the date...
    let out = std::process::Command::new(bin())
        .args(["server", "--no-mdns", "--listen", "127.0.0.1:0", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--ca")
        .arg(paths.ca_cert())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with(&format!("pingpong: error: {} expired on ", cert.display())),
        "{}",
        describe(&out)
    );
    // ...and a server that serves one anyway (the library has no such check)
    // is not trusted by the client, which says why.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(async {
        let mut config = pingpong::server::ServerConfig::new(pingpong::tls::TlsMaterial {
            cert: cert.clone(),
            key: key.clone(),
            ca: paths.ca_cert(),
        });
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.mdns = None;
        let server = pingpong::server::Server::bind(config).unwrap();
        let url = format!("https://127.0.0.1:{}/pingpong", server.local_addr().port());
        tokio::spawn(server.run(tokio_util::sync::CancellationToken::new()));
        url
    });
    let _rt = rt;
    let error = library_client_error(
        &url,
        &pingpong::tls::TlsMaterial::from_dir(&paths, LeafRole::Client),
    );
    assert!(
        error.contains("the server's certificate is not trusted: it has expired"),
        "{error}"
    );
}

#[test]
fn unsupported_protocol_version_gets_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut args = strings(&[&server.url(), "-c", "1", "--protocol-version", "0"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains(
            "protocol version not supported by the server: protocol version 0 is not supported"
        ),
        "{stderr}"
    );
    // Closed cleanly by the server, not by a timeout on our side: the reason
    // above is the server's own, which no timeout could have produced.
    assert!(!stderr.contains("timed out"), "{stderr}");
    server.wait_for_log("session refused", Duration::from_secs(10));
    assert_good_client_served(&server, &paths);
}

#[test]
fn wrong_path_and_silent_port_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut args = strings(&[
        &format!("https://127.0.0.1:{}/elsewhere", server.addr.port()),
        "-c",
        "1",
    ]);
    args.extend(tls_args(&paths, LeafRole::Client));
    expect_client_failure(&args, "no pingpong service at");

    // A bound UDP socket that never answers: nothing is listening there.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut args = strings(&[
        &format!("127.0.0.1:{port}"),
        "-c",
        "1",
        "--connect-timeout",
        "1",
    ]);
    args.extend(tls_args(&paths, LeafRole::Client));
    expect_client_failure(&args, "no answer from");
}

#[test]
fn bad_flags_and_missing_files_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = client(&strings(&["127.0.0.1:1", "-c", "many"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid value 'many'"),
        "{}",
        describe(&out)
    );

    let out = client(&strings(&["127.0.0.1:1", "-i", "-1"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));

    let missing = dir.path().join("nope.pem");
    let out = client(&strings(&[
        "127.0.0.1:1",
        "--cert",
        &missing.display().to_string(),
        "--key",
        &missing.display().to_string(),
        "--ca",
        &missing.display().to_string(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr.contains("nope.pem does not exist"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let out = client(&strings(&[
        "127.0.0.1:1",
        "--cert",
        &garbage.display().to_string(),
        "--key",
        &garbage.display().to_string(),
        "--ca",
        &garbage.display().to_string(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr.contains(
            "garbage.pem holds no readable certificate: it is not PEM, or its PEM is damaged. Fix:"
        ),
        "{stderr}"
    );
}

#[test]
fn fifty_concurrent_clients_get_every_pong() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut children = Vec::new();
    for _ in 0..50 {
        let mut command = std::process::Command::new(bin());
        command
            .arg("client")
            .args(strings(&[
                &server.url(),
                "-c",
                "200",
                "-i",
                "0",
                "--json",
                "--connect-timeout",
                "30",
            ]))
            .args(tls_args(&paths, LeafRole::Client))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push(command.spawn().unwrap());
    }
    let mut received = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string();
        let summary: serde_json::Value = serde_json::from_str(&last).unwrap();
        assert_eq!(summary["lost"], 0, "{}", describe(&out));
        assert_eq!(summary["duplicates"], 0, "{}", describe(&out));
        received += summary["received"].as_u64().unwrap();
    }
    assert_eq!(received, 50 * 200);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    assert_good_client_served(&server, &paths);
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", server.logs());
    server.wait_for_log("SIGTERM received", Duration::from_secs(10));
}

#[test]
fn sigterm_during_a_session_tells_the_client_why() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut command = std::process::Command::new(bin());
    command
        .arg("client")
        .args(strings(&[
            &server.url(),
            "-c",
            "0",
            "-i",
            "0.05",
            "--reconnect-timeout",
            "1",
        ]))
        .args(tls_args(&paths, LeafRole::Client))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    // Wait for the first pong line before stopping the server.
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    loop {
        let line = lines.next().expect("client output ended early").unwrap();
        if line.contains("seq=1 ") {
            break;
        }
    }
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unanswered pings are lost: exit 1, as the README says.
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    // The client heard why (Drain), tried to come back, and gave up after
    // --reconnect-timeout with a summary.
    assert!(
        stderr.contains("the server is draining: server shutting down"),
        "{stderr}"
    );
    let gave_up: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("the client gave up"))
        .collect();
    assert_eq!(gave_up.len(), 1, "{stderr}");
    assert!(
        gave_up[0].starts_with("pingpong: no server could be reached for ")
            && gave_up[0].contains(" s after the session was lost"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("the session ended: the session ended"),
        "{stderr}"
    );
    assert!(
        rest.iter().any(|l| l.contains("pings transmitted")),
        "{rest:?}"
    );
}

#[test]
fn sigint_stops_an_endless_client_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = ServerProcess::start(&tls_args(&paths, LeafRole::Server), &[]);
    let mut command = std::process::Command::new(bin());
    command
        .arg("client")
        .args(strings(&[&server.url(), "-c", "0", "-i", "0.05"]))
        .args(tls_args(&paths, LeafRole::Client))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    loop {
        let line = lines.next().expect("client output ended early").unwrap();
        if line.contains("seq=3 ") {
            break;
        }
    }
    send_signal(&child, libc::SIGINT);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{rest:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = rest
        .iter()
        .find(|l| l.contains("pings transmitted"))
        .expect("summary line");
    assert!(summary.contains("0% loss"), "{summary}");
}

#[test]
fn dual_stack_default_listener_serves_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut args = strings(&["--listen", "[::]:0"]);
    args.extend(tls_args(&paths, LeafRole::Server));
    let server = ServerProcess::start(&args, &[]);
    for url in [
        format!("https://127.0.0.1:{}/pingpong", server.addr.port()),
        format!("https://[::1]:{}/pingpong", server.addr.port()),
    ] {
        let mut args = strings(&[&url, "-c", "2", "-i", "0.01"]);
        args.extend(tls_args(&paths, LeafRole::Client));
        let out = client(&args);
        assert_eq!(out.status.code(), Some(0), "{url}: {}", describe(&out));
    }
}

#[test]
fn an_allow_list_admits_only_the_named_clients() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut args = strings(&["--allow-client", "alice"]);
    args.extend(tls_args(&paths, LeafRole::Server));
    let server = ServerProcess::start(&args, &[]);
    assert_allow_list_admits_only_alice(&server, &paths, dir.path());
}
