//! The certificate story across machines, as the README tells it, with one
//! PINGPONG_HOME folder per machine: the CA stays on the first; a server gets
//! a ready-made bundle (`certs issue --out`), a client makes its own key and a
//! request that the CA machine signs (`certs request` / `certs sign`); both run
//! from read-only mounts (as from a Kubernetes Secret); a machine with only
//! ca.pem is told what to do; and every bad certificate input gets one line.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn pingpong(home: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("PINGPONG_HOME", home)
        .output()
        .unwrap()
}

/// `pingpong <args>` with `home` bind-mounted read-only over itself (its own
/// mount namespace), as a Secret volume is.
fn read_only(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount --bind {0} {0} && mount -o remount,bind,ro {0} && exec \"$0\" \"$@\"",
            home.display()
        ))
        .arg(bin())
        .args(args)
        .env("PINGPONG_HOME", home);
    command
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one line a failed command printed, and its exit code.
fn failure(out: &Output) -> (String, Option<i32>) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", describe(out));
    (lines[0].to_string(), out.status.code())
}

#[test]
fn a_ca_machine_a_server_bundle_and_a_signed_client_request_ping_from_read_only_folders() {
    let dir = tempfile::tempdir().unwrap();
    let ca_home = dir.path().join("ca-machine");
    let server_home = dir.path().join("web2");
    let client_home = dir.path().join("laptop");

    // The CA machine: a CA, and a bundle for the server machine.
    ok(&pingpong(&ca_home, &["certs", "init"]));
    let bundle = ok(&pingpong(
        &ca_home,
        &[
            "certs",
            "issue",
            "server",
            "--name",
            "web2",
            "--san",
            "127.0.0.1",
            "--out",
        ]
        .into_iter()
        .chain([server_home.to_str().unwrap()])
        .collect::<Vec<_>>(),
    ));
    assert!(
        bundle.contains("server.pem, server.key (mode 0600), ca.pem"),
        "{bundle}"
    );

    // The client machine: its own key and a request; the CA machine signs it.
    let requested = ok(&pingpong(
        &client_home,
        &["certs", "request", "client", "--name", "alice"],
    ));
    assert!(
        requested.contains("certs sign client client.csr"),
        "{requested}"
    );
    let signed_dir = dir.path().join("signed");
    let csr = client_home.join("client.csr");
    ok(&pingpong(
        &ca_home,
        &[
            "certs",
            "sign",
            "client",
            csr.to_str().unwrap(),
            "--out",
            signed_dir.to_str().unwrap(),
        ],
    ));
    for file in ["client.pem", "ca.pem"] {
        std::fs::copy(signed_dir.join(file), client_home.join(file)).unwrap();
    }
    let shown = ok(&pingpong(&client_home, &["certs", "show"]));
    assert!(shown.contains("client \"alice\""), "{shown}");
    assert!(shown.contains("chains to ca.pem"), "{shown}");
    assert!(shown.contains("client.key  matches client.pem"), "{shown}");
    assert!(
        !ca_home.join("client.pem").exists(),
        "the CA machine got a client.pem"
    );

    // Both run from read-only folders: nothing is written, nothing is created.
    let server = ServerProcess::spawn(read_only(
        &server_home,
        &["server", "--no-mdns", "--listen", "127.0.0.1:0"],
    ));
    let out = read_only(
        &client_home,
        &["client", &server.url(), "-c", "2", "-i", "0.01"],
    )
    .output()
    .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains("2 pings transmitted, 2 received"),
        "{stdout}"
    );
    assert!(
        stdout.contains("server \"127.0.0.1\"") || stdout.contains("cert web2"),
        "{stdout}"
    );
    assert!(!client_home.join(".lock").exists() && !server_home.join(".lock").exists());

    // A machine with only ca.pem is told where its certificate comes from.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(ca_home.join("ca.pem"), bare.join("ca.pem")).unwrap();
    let (line, code) = failure(&pingpong(&bare, &["client", &server.url(), "-c", "1"]));
    assert_eq!(code, Some(2));
    assert!(
        line.starts_with(&format!(
            "pingpong: error: {} has ca.pem but no client.pem and client.key, and no ca.key",
            bare.display()
        )) && line.contains("certs issue client --name NAME --out BUNDLE")
            && line.contains("certs request client --name NAME"),
        "{line}"
    );
    assert!(
        !bare.join("ca.key").exists(),
        "a development CA was made beside ca.pem"
    );

    // Issuing there is not advised to make a CA of its own.
    let (line, code) = failure(&pingpong(
        &bare,
        &["certs", "issue", "client", "--name", "bob"],
    ));
    assert_eq!(code, Some(2));
    assert!(
        line.starts_with(&format!(
            "pingpong: error: {} has ca.pem but not ca.key: the CA's key stays on the machine where the CA was made",
            bare.display()
        )) && line.contains("certs issue client --name NAME --out BUNDLE")
            && line.contains("`pingpong certs request client --name NAME` here, `pingpong certs sign client client.csr` there")
            && !line.contains("run `pingpong certs init` first"),
        "{line}"
    );
    assert!(!bare.join("client.pem").exists() && !bare.join("ca.key").exists());
}

#[test]
fn certificate_mistakes_get_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("ca");
    ok(&pingpong(&home, &["certs", "init", "--days", "30"]));

    // A leaf may not outlive its CA.
    let (line, code) = failure(&pingpong(
        &home,
        &["certs", "issue", "client", "--name", "c", "--days", "60"],
    ));
    assert_eq!(code, Some(2));
    assert!(
        line.contains("a 60-day certificate would outlive its CA")
            && line.contains("Fix: --days 29 or fewer"),
        "{line}"
    );
    // Zero days is refused by the parser.
    let out = pingpong(
        &home,
        &["certs", "issue", "client", "--name", "c", "--days", "0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value '0' for '--days"));

    // A ca.key that is not ca.pem's signs nothing.
    let other = dir.path().join("other");
    ok(&pingpong(&other, &["certs", "init"]));
    std::fs::copy(home.join("ca.key"), dir.path().join("saved.key")).unwrap();
    std::fs::copy(other.join("ca.key"), home.join("ca.key")).unwrap();
    let (line, _) = failure(&pingpong(
        &home,
        &["certs", "issue", "client", "--name", "c"],
    ));
    assert!(
        line.contains(&format!(
            "{} is not the key of {}",
            home.join("ca.key").display(),
            home.join("ca.pem").display()
        )) && line.contains("put back the ca.key"),
        "{line}"
    );
    std::fs::copy(dir.path().join("saved.key"), home.join("ca.key")).unwrap();

    // A leaf key that is not its certificate's names both files.
    ok(&pingpong(
        &home,
        &["certs", "issue", "client", "--name", "c", "--days", "10"],
    ));
    ok(&pingpong(
        &other,
        &["certs", "issue", "client", "--name", "d"],
    ));
    std::fs::copy(other.join("client.key"), home.join("client.key")).unwrap();
    let (line, code) = failure(&pingpong(&home, &["client", "127.0.0.1:9", "-c", "1"]));
    assert_eq!(code, Some(2));
    assert!(
        line.contains(&format!(
            "{} is not the key of {}",
            home.join("client.key").display(),
            home.join("client.pem").display()
        )),
        "{line}"
    );

    // A corrupt request, and a home that is a file.
    let junk = dir.path().join("junk.csr");
    std::fs::write(&junk, "junk").unwrap();
    let (line, _) = failure(&pingpong(
        &home,
        &[
            "certs",
            "sign",
            "client",
            junk.to_str().unwrap(),
            "--days",
            "10",
        ],
    ));
    assert!(
        line.contains("it is not a PEM certificate request"),
        "{line}"
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (line, code) = failure(&pingpong(&file, &["client", "127.0.0.1:9", "-c", "1"]));
    assert_eq!(code, Some(2));
    assert_eq!(
        line,
        format!("pingpong: error: {} is not a folder. Fix: point PINGPONG_HOME (or --dir) at a folder for the certificates", file.display())
    );

    // init --force says what it orphans.
    let out = pingpong(&other, &["certs", "init", "--force"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stderr.contains("the old CA is gone")
            && stderr.contains("client.pem"),
        "{}",
        describe(&out)
    );
}
