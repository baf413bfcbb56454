//! `pingpong web` in a real browser: Debian's Chromium, driven headless by
//! playwright-core (`tests/web/dashboard.mjs`), against the agent and two real
//! servers (one Rust, one Python) advertising over mDNS, all inside a network
//! namespace this test makes. Checks: the empty state before any server runs,
//! both rows with live RTTs once they do, a server
//! stopped with SIGTERM shows draining or disappears, a wrong token is refused
//! (page and WebTransport). The agent runs as the README's "Dashboard"
//! section writes it, and logs why a server is unreachable. The screenshot is kept at `target/web-dashboard.png`.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::readme;
use common::*;
use pingpong::tls::CertPaths;
use serde_json::Value;

fn web_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web"))
}

fn assert_browser_tools() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is not installed (/usr/bin/chromium): run scripts/test, which installs it"
    );
    assert!(
        web_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is not installed in tests/web: run scripts/test (npm ci --prefix tests/web)"
    );
}

/// The README's "Dashboard" command split in words, and the URL its comment
/// says it prints, up to the token.
fn readme_dashboard_line() -> (Vec<String>, String) {
    let lines = readme::shell_lines("Dashboard");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (command, comment) = lines[0].split_once(" #").unwrap();
    let promised = comment
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {comment:?}"));
    (
        command.split_whitespace().map(String::from).collect(),
        promised.trim_end_matches("...").to_string(),
    )
}

#[test]
fn the_dashboard_shows_live_servers_in_chromium() {
    assert_browser_tools();
    let netns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    pingpong::tls::store::init_single_host(&CertPaths::new(&home), "web CA", 30).unwrap();
    // The README's line as written (port 8080 is free in this namespace), and
    // the address its comment says it prints.
    let (command, promised) = readme_dashboard_line();
    let mut agent = netns.command(bin());
    agent
        .args(&command[1..])
        .env("PINGPONG_HOME", &home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut agent = agent.spawn().unwrap();
    let mut agent_lines = BufReader::new(agent.stdout.take().unwrap()).lines();
    let first = agent_lines.next().unwrap().unwrap();
    // Keep reading, so that the agent never writes to a closed pipe.
    std::thread::spawn(move || agent_lines.for_each(drop));
    let agent_log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log = agent_log.clone();
    let stderr = agent.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("agent: {line}");
            log.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let url = first
        .strip_prefix("pingpong web: open ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    assert!(
        url.starts_with(&promised) && url.len() > promised.len() + 16,
        "`{}` printed {url}, the README says {promised}...",
        command.join(" ")
    );

    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut driver = netns.command("node");
    driver
        .current_dir(web_dir())
        .arg("dashboard.mjs")
        .arg(&url)
        .arg(&screenshot)
        .args(["alpha", "beta"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut driver = driver.spawn().expect("node is not installed");
    let mut steps = BufReader::new(driver.stdout.take().unwrap()).lines();
    let mut next_step = || -> Value {
        let line = steps
            .next()
            .expect("the browser driver ended early")
            .unwrap();
        let step: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_ne!(
            step["step"], "error",
            "browser driver failed: {}",
            step["message"]
        );
        step
    };

    let empty = next_step();
    assert_eq!(empty["step"], "empty", "{empty}");
    assert_eq!(empty["status"], "live", "{empty}");
    assert!(
        empty["text"]
            .as_str()
            .unwrap()
            .contains("No servers found yet — is a server running on this network?"),
        "{empty}"
    );
    let env = [("PINGPONG_HOME", home.as_path())];
    let rust = ServerProcess::start_in(
        &netns,
        &strings(&["--listen", "[::]:0", "--instance", "alpha"]),
        &env,
    );
    let mut python = netns.command(&python_server_bin());
    python
        .args(["--listen", "[::]:0", "--instance", "beta"])
        .env("PINGPONG_HOME", &home);
    let python = ServerProcess::spawn(python);

    writeln!(driver.stdin.as_mut().unwrap(), "servers started").unwrap();

    let rows = next_step();
    assert_eq!(rows["step"], "rows", "{rows}");
    assert_eq!(rows["status"], "live", "{rows}");
    let listed = rows["rows"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{rows}");
    for row in listed {
        assert_eq!(row["state"], "serving", "{row}");
        assert_eq!(row["source"], "mdns", "{row}");
        assert_eq!(row["version"], "v1", "{row}");
        assert_eq!(row["fingerprint"].as_str().unwrap().len(), 64, "{row}");
        assert!(row["rtt"].as_str().unwrap().ends_with(" ms"), "{row}");
    }
    let png = std::fs::read(&screenshot).expect("no screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    assert_eq!(next_step()["step"], "waiting");
    rust.signal(libc::SIGTERM);
    writeln!(driver.stdin.as_mut().unwrap(), "alpha").unwrap();
    let stopped = next_step();
    assert_eq!(stopped["step"], "stopped", "{stopped}");
    assert!(
        stopped["state"] == "gone" || stopped["state"] == "draining",
        "{stopped}"
    );

    assert_eq!(next_step()["step"], "waiting_hang");
    python.signal(libc::SIGSTOP);
    writeln!(driver.stdin.as_mut().unwrap(), "beta").unwrap();
    let unreachable = next_step();
    assert_eq!(unreachable["step"], "unreachable", "{unreachable}");
    // Whichever notices first: the monitor's 2 s ping deadline or QUIC's idle
    // timeout.
    let reason = unreachable["reason"].as_str().unwrap();
    assert!(
        reason.contains("the server stopped answering") || reason.contains("timed out"),
        "{unreachable}"
    );

    // The agent logged the reason too (it logs before it publishes the row),
    // once per change: not once a second.
    let said = || {
        agent_log
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains("server unreachable") && l.contains("beta"))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while said() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = agent_log.lock().unwrap().clone();
    assert!((1..=3).contains(&said()), "{logged}");

    let wrong = next_step();
    assert_eq!(wrong["step"], "wrong_token", "{wrong}");
    assert!(
        wrong["message"]
            .as_str()
            .unwrap()
            .contains("refused this page's token"),
        "{wrong}"
    );
    assert!(
        wrong["webtransport"]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{wrong}"
    );
    let status = wait_timeout::ChildExt::wait_timeout(&mut driver, Duration::from_secs(20))
        .unwrap()
        .expect("the browser driver did not finish");
    assert!(status.success());
    send_signal(&agent, libc::SIGTERM);
    let status = wait_timeout::ChildExt::wait_timeout(&mut agent, Duration::from_secs(10))
        .unwrap()
        .expect("pingpong web did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
}
