//! Certificate rotation under a running server, Rust or Python: new sessions
//! get the new certificate, an open session goes on undisturbed, and a
//! half-written file does not take the server down (the old certificate
//! stays). A change of CA
//! key goes through a bundle trusting both CAs (docs/kubernetes.md).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::Path;
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

/// Ends an `endless_client` and checks its session lost nothing and never
/// reconnected.
fn assert_untouched(
    mut holder: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
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

/// Starts a server (Rust or Python) on the given certificate, key and CA.
type Start = fn(&Path, &Path, &Path) -> ServerProcess;

#[test]
fn rotated_certificates_reach_new_sessions_and_broken_files_are_refused() {
    rotation_reaches_new_sessions(ServerProcess::start_with_files);
}

#[test]
fn the_python_server_reloads_rotated_certificates_the_same_way() {
    rotation_reaches_new_sessions(|cert, key, ca| {
        let mut command = std::process::Command::new(python_server_bin());
        command
            .args(["--listen", "127.0.0.1:0", "--no-mdns", "--cert"])
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg("--ca")
            .arg(ca);
        ServerProcess::spawn(command)
    });
}

fn rotation_reaches_new_sessions(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(&dir.path().join("pki"), "ca");
    // The server reads its files from a "mounted secret" folder.
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let (cert, key) = (live.join("tls.crt"), live.join("tls.key"));
    std::fs::copy(paths.leaf_cert(LeafRole::Server), &cert).unwrap();
    std::fs::copy(paths.leaf_key(LeafRole::Server), &key).unwrap();
    let server = start(&cert, &key, &paths.ca_cert());
    let before = fingerprint_seen(&server, &paths);

    // A session that stays open through the rotation.
    let (holder, mut lines) = endless_client(server.url().as_str(), &paths, &[]);
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
    assert_untouched(holder, lines);
}

/// A client's certificate, key and trusted CAs.
struct ClientFiles {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    ca: std::path::PathBuf,
}

/// One ping from a client holding `files`: its exit code and what it said.
fn ping(server: &ServerProcess, files: &ClientFiles) -> (Option<i32>, String) {
    let out = client(&strings(&[
        &server.url(),
        "-c",
        "1",
        "--cert",
        &files.cert.display().to_string(),
        "--key",
        &files.key.display().to_string(),
        "--ca",
        &files.ca.display().to_string(),
    ]));
    (out.status.code(), describe(&out))
}

/// Replaces `path` the way a kubelet updates a mounted ConfigMap or Secret:
/// the new content is written aside and renamed over it.
fn swap_in(path: &std::path::Path, content: &[u8]) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, content).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[test]
fn a_ca_key_change_through_a_two_ca_bundle_keeps_every_step_connected() {
    // docs/kubernetes.md#rotating-the-ca, step by step, on one server whose
    // --ca file is the trust bundle.
    let dir = tempfile::tempdir().unwrap();
    let old = pki(&dir.path().join("old"), "old CA");
    let new = pki(&dir.path().join("new"), "new CA");
    let old_ca = std::fs::read(old.ca_cert()).unwrap();
    let new_ca = std::fs::read(new.ca_cert()).unwrap();
    let both = dir.path().join("both.pem");
    std::fs::write(&both, [old_ca.clone(), new_ca.clone()].concat()).unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let (cert, key, trust) = (
        live.join("tls.crt"),
        live.join("tls.key"),
        live.join("ca.crt"),
    );
    std::fs::copy(old.leaf_cert(LeafRole::Server), &cert).unwrap();
    std::fs::copy(old.leaf_key(LeafRole::Server), &key).unwrap();
    std::fs::write(&trust, &old_ca).unwrap();
    let server = ServerProcess::start_with_files(&cert, &key, &trust);
    let files = |paths: &pingpong::tls::CertPaths, ca: &std::path::Path| ClientFiles {
        cert: paths.leaf_cert(LeafRole::Client),
        key: paths.leaf_key(LeafRole::Client),
        ca: ca.to_path_buf(),
    };
    let old_client = files(&old, &old.ca_cert());
    let old_client_bundle = files(&old, &both);
    let new_client = files(&new, &new.ca_cert());
    let new_client_bundle = files(&new, &both);
    let reloaded = "certificates reloaded for new sessions";

    // 1. Only the old CA: old clients in, new ones out.
    assert_eq!(ping(&server, &old_client).0, Some(0));
    assert_eq!(ping(&server, &new_client_bundle).0, Some(2));
    let (holder, mut lines) = endless_client(server.url().as_str(), &old, &[]);
    assert!(lines.next().unwrap().unwrap().starts_with("PINGPONG"));

    // 3. Both CAs trusted: clients of either CA get in, the server still
    //    shows its old certificate.
    swap_in(&trust, &[old_ca.clone(), new_ca.clone()].concat());
    server.wait_for_log_count(reloaded, 1, Duration::from_secs(15));
    assert_eq!(ping(&server, &old_client).0, Some(0));
    assert_eq!(ping(&server, &new_client_bundle).0, Some(0));

    // 4. The server's leaf from the new CA: clients trusting only the old CA
    //    are out; with the bundle, old and new clients alike are in.
    std::fs::copy(new.leaf_key(LeafRole::Server), live.join("tls.key.staged")).unwrap();
    std::fs::copy(new.leaf_cert(LeafRole::Server), live.join("tls.crt.staged")).unwrap();
    std::fs::rename(live.join("tls.key.staged"), &key).unwrap();
    std::fs::rename(live.join("tls.crt.staged"), &cert).unwrap();
    server.wait_for_log_count(reloaded, 2, Duration::from_secs(15));
    let (code, said) = ping(&server, &old_client);
    assert_eq!(code, Some(2), "{said}");
    assert_eq!(ping(&server, &old_client_bundle).0, Some(0));
    assert_eq!(ping(&server, &new_client_bundle).0, Some(0));
    assert_eq!(ping(&server, &new_client).0, Some(0));

    // 5. The new CA alone: an old client certificate is refused.
    swap_in(&trust, &new_ca);
    server.wait_for_log_count(reloaded, 3, Duration::from_secs(15));
    let (code, said) = ping(&server, &old_client_bundle);
    assert_eq!(code, Some(2), "{said}");
    assert_eq!(ping(&server, &new_client).0, Some(0));

    // The session opened at step 1 went through every step untouched.
    assert_untouched(holder, lines);
}
