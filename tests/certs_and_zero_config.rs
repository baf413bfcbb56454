//! `pingpong certs` and the zero-config development CA.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use pingpong::tls::{CertPaths, LeafRole, PeerIdentity};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn pingpong(args: &[&str], home: &Path) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env("PINGPONG_HOME", home)
        .output()
        .unwrap()
}

fn identity(path: &Path) -> PeerIdentity {
    let der = pingpong::tls::load::certificates(path).unwrap().remove(0);
    PeerIdentity::from_der(&der).unwrap()
}

#[test]
fn certs_init_and_issue_write_the_six_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = pingpong(&["certs", "init"], &home);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = pingpong(
        &[
            "certs", "issue", "server", "--name", "web1", "--san", "web1.lan", "--san", "10.1.2.3",
        ],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = pingpong(&["certs", "issue", "client", "--name", "alice"], &home);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    let paths = CertPaths::new(&home);
    for key in [
        paths.ca_key(),
        paths.leaf_key(LeafRole::Server),
        paths.leaf_key(LeafRole::Client),
    ] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    let server = identity(&paths.leaf_cert(LeafRole::Server));
    assert_eq!(server.common_name.as_deref(), Some("web1"));
    assert_eq!(
        server.sans,
        vec!["web1.lan".to_string(), "10.1.2.3".to_string()]
    );
    let client = identity(&paths.leaf_cert(LeafRole::Client));
    assert_eq!(client.sans, vec!["alice".to_string()]);

    // A second init is refused, and changes nothing.
    let before = std::fs::read(paths.ca_cert()).unwrap();
    let out = pingpong(&["certs", "init"], &home);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"),
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        describe(&out)
    );
    assert_eq!(before, std::fs::read(paths.ca_cert()).unwrap());
    let out = pingpong(&["certs", "issue", "client", "--name", "bob"], &home);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = pingpong(
        &["certs", "issue", "client", "--name", "bob", "--force"],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        identity(&paths.leaf_cert(LeafRole::Client)).sans,
        vec!["bob".to_string()]
    );

    // --dir wins over $PINGPONG_HOME.
    let other = dir.path().join("other");
    let out = pingpong(&["certs", "init", "--dir", other.to_str().unwrap()], &home);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(other.join("ca.pem").exists());
}

#[test]
fn server_certificate_without_san_covers_the_zero_config_names() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pingpong(&["certs", "init"], dir.path()).status.code(),
        Some(0)
    );
    let out = pingpong(&["certs", "issue", "server", "--name", "svc"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sans = identity(&CertPaths::new(dir.path()).leaf_cert(LeafRole::Server)).sans;
    for want in ["svc", "localhost", "127.0.0.1", "::1"] {
        assert!(
            sans.iter().any(|s| s == want),
            "{want} missing from {sans:?}"
        );
    }
}

#[test]
fn issue_without_a_ca_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = pingpong(&["certs", "issue", "client", "--name", "x"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `pingpong certs init` first"),
        "{}",
        describe(&out)
    );
}

#[test]
fn zero_config_server_and_client_share_a_development_ca() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("pp");
    let server = ServerProcess::start(&[], &[("PINGPONG_HOME", &home)]);
    server.wait_for_log("created a development CA", Duration::from_secs(10));
    let out = client_with_env(
        &strings(&[&server.url(), "-c", "2", "-i", "0.01"]),
        &[("PINGPONG_HOME", &home)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // The client found everything in place and created nothing.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("created"),
        "{}",
        describe(&out)
    );
    let paths = CertPaths::new(&home);
    assert_eq!(mode(&paths.ca_key()), 0o600);
    assert_eq!(mode(&paths.leaf_key(LeafRole::Server)), 0o600);
    assert_eq!(mode(&paths.leaf_key(LeafRole::Client)), 0o600);
}
