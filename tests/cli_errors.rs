//! Bad input on the command line gets one line: what happened, with the value
//! or address involved, and the fix; the exit code the README gives (2).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::process::Command;

use common::*;

/// `pingpong <args>` with a throwaway certificate folder: (exit code, stderr).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(args)
        .env("PINGPONG_HOME", home.path())
        .env_remove("PINGPONG_DNS")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one line of `stderr` that says what went wrong.
fn error_line(stderr: &str) -> &str {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("pingpong: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0]
}

#[test]
fn a_negative_count_says_what_counts_are() {
    let (code, stderr) = run(&["client", "-c", "-1", "127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        error_line(&stderr),
        "error: invalid value '-1' for '--count <COUNT>': \"-1\" is not a number of pings: give 1 or more, or 0 to ping until interrupted"
    );
}

#[test]
fn an_address_given_to_dns_points_to_dns_server() {
    let (code, stderr) = run(&["client", "--dns", "10.0.0.5", "-c", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        error_line(&stderr),
        "error: invalid value '10.0.0.5' for '--dns <NAME>': \"10.0.0.5\" is an address, and --dns takes the service's DNS name (pingpong, or pingpong.default.svc.cluster.local). To ask the DNS server at 10.0.0.5, add --dns-server 10.0.0.5"
    );
}

#[test]
fn a_zone_too_long_for_its_names_is_refused_where_it_is_given() {
    // 3 labels of 60: 184 bytes in DNS, and an instance name under it would
    // pass 255. Refused by the parser, before the key is read or a socket made.
    let zone = ["a".repeat(60), "b".repeat(60), "c".repeat(60)].join(".");
    for args in [
        vec![
            "server",
            "--register-dns",
            &zone,
            "--tsig-key",
            "/nonexistent",
        ],
        vec!["dns", "prune", &zone],
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{stderr}");
        let line = error_line(&stderr);
        assert!(
            line.starts_with(&format!("error: invalid value '{zone}' for '"))
                && line.ends_with("it takes 184 bytes in DNS, and `<instance>._pingpong._udp.` in front of it would pass DNS's 255-byte limit: use a zone of at most 176 bytes"),
            "{line}"
        );
    }
}

#[test]
fn a_registration_that_cannot_work_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    std::fs::write(
        &key,
        "key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\";\n};\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let host = "h".repeat(70);
    let (code, stderr) = run(&[
        "server",
        "--no-mdns",
        "--listen",
        "127.0.0.1:0",
        "--register-dns",
        "lab.test",
        "--register-host",
        &host,
        "--register-server",
        "127.0.0.1:9",
        "--tsig-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.starts_with(
            "pingpong: error: cannot register in DNS: cannot register in lab.test: host name"
        ) && line.matches(&host).count() == 1,
        "{line}"
    );
}

#[test]
fn a_port_in_use_is_said_once_with_the_fix() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (code, stderr) = run(&["server", "--no-mdns", "--listen", &addr.to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    let line = error_line(&stderr);
    assert_eq!(
        line,
        format!(
            "pingpong: error: cannot listen on {addr}: Address already in use (os error 98). Fix: another process uses that port: stop it, or choose another port"
        )
    );
}

#[test]
fn a_host_name_is_a_listen_address_and_a_bad_one_says_the_form() {
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &strings(&["--listen", "localhost:0"]),
        &[("PINGPONG_HOME", home.path())],
    );
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    let (code, stderr) = run(&["server", "--no-mdns", "--listen", "localhost"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        error_line(&stderr),
        "error: invalid value 'localhost' for '--listen <LISTEN>': \"localhost\" is not HOST:PORT or IP:PORT (for example [::]:4433, 0.0.0.0:4433, localhost:4433)"
    );
}

#[test]
fn an_address_of_the_other_ip_version_is_refused_before_anything_is_made() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["client", "-6", "127.0.0.1", "-c", "1"])
        .env("PINGPONG_HOME", home.path().join("pki"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        error_line(&stderr),
        "pingpong: error: 127.0.0.1 is an IPv4 address, but -6 asks for IPv6 only. Fix: drop -6, or give an IPv6 address"
    );
    assert!(
        !home.path().join("pki").exists(),
        "files were made for a refused command"
    );
    let (code, stderr) = run(&["client", "-4", "[::1]:4433", "-c", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        error_line(&stderr).contains("::1 is an IPv6 address, but -4 asks for IPv4 only"),
        "{stderr}"
    );
}

#[test]
fn discover_and_web_take_the_same_family_and_timeout_flags_as_the_client() {
    for command in ["client", "discover", "web"] {
        let out = Command::new(bin())
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("-4") && help.contains("Use IPv4 only"),
            "{command}: {help}"
        );
        assert!(
            help.contains("-6") && help.contains("Use IPv6 only"),
            "{command}: {help}"
        );
    }
    for command in ["client", "discover"] {
        let out = Command::new(bin())
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--discover-timeout"), "{command}: {help}");
    }
    let out = Command::new(bin())
        .args(["client", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains(&format!(
            "at most {}",
            pingpong::client::PingOptions::MAX_PAYLOAD
        )),
        "{help}"
    );
}
