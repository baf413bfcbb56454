//! Certificate rotation under a running server: new sessions get the new
//! certificate, an open session goes on undisturbed, and a half-written file
//! does not take the server down (the old certificate stays).

mod common;

use std::time::Duration;

use common::*;
use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{store, LeafRole};

/// The server certificate fingerprint (first 16 hex digits) a client saw.
fn fingerprint_seen(server: &ServerProcess, paths: &pingpong::tls::CertPaths) -> String {
    let mut args = strings(&[&server.url(), "-c", "1"]);
    args.extend(tls_args(paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let header = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    header
        .split("sha256:")
        .nth(1)
        .unwrap()
        .chars()
        .take(16)
        .collect()
}

#[test]
fn rotated_certificates_reach_new_sessions_and_broken_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("pki"), "ca");
    // The server reads its files from a "mounted secret" folder.
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let (cert, key) = (live.join("tls.crt"), live.join("tls.key"));
    std::fs::copy(paths.leaf_cert(LeafRole::Server), &cert).unwrap();
    std::fs::copy(paths.leaf_key(LeafRole::Server), &key).unwrap();
    let server = ServerProcess::start_with_files(&cert, &key, &paths.ca_cert());
    let before = fingerprint_seen(&server, &paths);

    // A session that stays open through the rotation.
    let (mut holder, mut lines) = endless_client(server.url().as_str(), &paths, &[]);
    assert!(lines.next().unwrap().unwrap().starts_with("PINGPONG"));

    // Rotate the way cert-manager does: new files written aside, then swapped in.
    let ca = store::load_ca(&paths).unwrap();
    let leaf = issue_leaf(
        &ca,
        LeafRole::Server,
        "localhost",
        &["localhost".into(), "127.0.0.1".into()],
        Validity::days(30),
    )
    .unwrap();
    let staged = dir.path().join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    store::write_file(&staged.join("tls.crt"), &leaf.cert, false, false).unwrap();
    store::write_file(&staged.join("tls.key"), &leaf.key, true, false).unwrap();
    std::fs::rename(staged.join("tls.key"), &key).unwrap();
    std::fs::rename(staged.join("tls.crt"), &cert).unwrap();
    server.wait_for_log(
        "certificates reloaded for new sessions",
        Duration::from_secs(15),
    );
    let after = fingerprint_seen(&server, &paths);
    assert_ne!(before, after, "new sessions still get the old certificate");

    // A half-written certificate: refused, logged, the current one kept.
    let pem = std::fs::read_to_string(&cert).unwrap();
    std::fs::write(&cert, &pem[..pem.len() / 2]).unwrap();
    server.wait_for_log("new certificate files do not load", Duration::from_secs(15));
    assert_eq!(fingerprint_seen(&server, &paths), after);

    // The open session never noticed.
    send_signal(&holder, libc::SIGINT);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    holder.wait().unwrap();
    let summary = rest
        .iter()
        .find(|l| l.contains("pings transmitted"))
        .expect("summary");
    assert!(summary.contains(" 0% loss"), "{summary}");
    assert!(
        !rest.iter().any(|l| l.starts_with("reconnected")),
        "{rest:?}"
    );
}
