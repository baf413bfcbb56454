//! The examples users copy, run for real: each mDNS one inside a namespace the
//! test creates.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::*;

#[test]
fn advertise_and_browse_a_service_of_your_own_type() {
    let netns = Netns::new();
    let mut advertise = netns
        .command(&example("advertise"))
        .args(["_myapp._tcp.local.", "my-instance", "8080", "--for", "4"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(advertise.stdout.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("advertising my-instance._myapp._tcp.local."),
        "{line}"
    );
    let out = netns
        .command(&example("browse"))
        .args(["_myapp._tcp.local.", "--for", "10"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    let added = stdout
        .lines()
        .find(|l| l.starts_with("+ my-instance "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        added.contains(":8080") && added.contains("hello=world") && added.contains("version=1"),
        "{added}"
    );
    // Through the Publisher interface: the TXT update at 2 s, then the
    // goodbye at 4 s (seen after the browser's removal grace).
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let (added, updated, removed) = (
        at("+ my-instance "),
        at("= my-instance "),
        at("- my-instance "),
    );
    assert!(
        added < updated && updated < removed && lines[updated.unwrap()].contains("hello=again"),
        "{stdout}"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut said, &mut rest).unwrap();
    assert!(advertise.wait().unwrap().success(), "{rest}");
    assert_eq!(rest, "TXT updated\ngoodbye sent\n");
}

#[test]
fn embedded_client_finds_the_embedded_server_and_pings_it() {
    let netns = Netns::new();
    let home = tempfile::tempdir().unwrap();
    let mut server = netns
        .command(&example("embedded_server"))
        .args(["--for", "30"])
        .env("PINGPONG_HOME", home.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server ended").unwrap();
        if line.starts_with("listening on port") {
            assert!(line.contains("embedded._pingpong._udp.local."), "{line}");
            break;
        }
    }
    let out = netns
        .command(&example("embedded_client"))
        .env("PINGPONG_HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout.contains("connected to \"embedded\""), "{stdout}");
    assert!(stdout.contains("3 of 3 answered"), "{stdout}");
    // The shutdown handle drains the server.
    send_signal(&server, libc::SIGINT);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "drained and stopped"), "{rest:?}");
    server.wait().unwrap();
}
