//! `pingpong client` and `discover` runs: to completion, endless, expected to
//! fail; and what their JSON output lists.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use pingpong::tls::{CertPaths, LeafRole};

use super::*;

/// The JSON array a successful `pingpong ... --json` printed (`discover`).
pub fn json_array(out: &Output) -> Vec<serde_json::Value> {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    match serde_json::from_slice(&out.stdout) {
        Ok(serde_json::Value::Array(items)) => items,
        other => panic!("not a JSON array ({other:?}): {}", describe(out)),
    }
}

/// The addresses a `discover --json` entry lists.
pub fn listed_addresses(server: &serde_json::Value) -> Vec<&str> {
    server["addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("no addresses in {server}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// Runs `pingpong client <args>` to completion.
pub fn client(args: &[String]) -> Output {
    client_with_env(args, &[])
}

/// Runs `pingpong client <args>` with extra environment variables.
pub fn client_with_env(args: &[String], envs: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(bin());
    command.arg("client").args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("run pingpong client")
}

/// Runs `pingpong client URL <extra>` with these certificate, key and CA files.
pub fn client_with_files(url: &str, cert: &Path, key: &Path, ca: &Path, extra: &[&str]) -> Output {
    let mut args = strings(&[url]);
    args.extend(strings(extra));
    for (flag, path) in [("--cert", cert), ("--key", key), ("--ca", ca)] {
        args.push(flag.into());
        args.push(path.display().to_string());
    }
    client(&args)
}

/// A client pinging `url` every 50 ms until stopped (`-c 0`), with `extra`
/// arguments; returns the process and its stdout lines.
pub fn endless_client(
    url: &str,
    paths: &CertPaths,
    extra: &[&str],
) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut command = Command::new(bin());
    command
        .arg("client")
        .args(strings(&[url, "-c", "0", "-i", "0.05"]))
        .args(strings(extra))
        .args(tls_args(paths, LeafRole::Client))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn pingpong client");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// What the library's client says when it cannot open a session to `url`.
pub fn library_client_error(url: &str, material: &pingpong::tls::TlsMaterial) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let connector = pingpong::client::Connector::new(material, None).unwrap();
        let error = match connector.open(url).await {
            Ok(_) => panic!("{url} accepted the session"),
            Err(error) => error.to_string(),
        };
        connector.shutdown().await;
        error
    })
}

/// Runs `pingpong client ARGS`, which must fail with exit 2 and a one-line
/// error containing `needle` (no panic); returns its stderr.
pub fn expect_client_failure(args: &[String], needle: &str) -> String {
    let out = client(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr.contains(needle), "wanted {needle:?} in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The arguments of a client whose certificate comes from `foreign`'s CA,
/// pinging `url` once while trusting `trusted_ca` (the server's CA): the
/// server must refuse it during the handshake.
pub fn foreign_client_args(url: &str, foreign: &CertPaths, trusted_ca: &Path) -> Vec<String> {
    strings(&[
        url,
        "-c",
        "1",
        "--cert",
        &foreign.leaf_cert(LeafRole::Client).display().to_string(),
        "--key",
        &foreign.leaf_key(LeafRole::Client).display().to_string(),
        "--ca",
        &trusted_ca.display().to_string(),
    ])
}
