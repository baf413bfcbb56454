//! A `pingpong client --json` read event by event, for tests that act while it
//! runs (kill a server, take a link down) and check exact counts at the end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Longest silence between two lines before a test fails instead of hanging:
/// far above any gap a test provokes (a stopped server, a partition).
const SILENCE_LIMIT: Duration = Duration::from_secs(120);

/// A client printing JSON lines, read as they come.
pub struct JsonClient {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl JsonClient {
    pub fn spawn(mut command: std::process::Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line, as JSON; fails the test when the output ended or
    /// stayed silent for [`SILENCE_LIMIT`].
    pub fn next(&mut self) -> Value {
        let line = match self.lines.recv_timeout(SILENCE_LIMIT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("no output for {SILENCE_LIMIT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("client output ended"),
        };
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// Reads until an event of `kind`; returns it.
    pub fn until(&mut self, kind: &str) -> Value {
        loop {
            let event = self.next();
            if event["event"] == kind {
                return event;
            }
        }
    }

    /// Reads until `n` pongs were seen.
    pub fn pongs(&mut self, n: usize) {
        for _ in 0..n {
            self.until("pong");
        }
    }

    /// Reads until `n` pongs were seen; returns their seqs.
    pub fn pong_seqs(&mut self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| self.until("pong")["seq"].as_u64().unwrap())
            .collect()
    }

    /// Reads to the end; returns the summary and the exit status.
    pub fn finish(mut self) -> (Value, Vec<Value>, Option<i32>) {
        let mut events = Vec::new();
        let summary = loop {
            let event = self.next();
            if event["event"] == "summary" {
                break event;
            }
            events.push(event);
        };
        let status = self.child.wait().unwrap();
        (summary, events, status.code())
    }
}

/// The summary counts exactly `count` pings sent and answered, none lost and
/// none answered twice.
pub fn assert_nothing_lost(summary: &Value, count: u64) {
    assert_eq!(summary["transmitted"], count, "{summary}");
    assert_eq!(summary["received"], count, "{summary}");
    assert_eq!(summary["lost"], 0, "{summary}");
    // Nothing here duplicates packets: a duplicate is an accounting error
    // (a hedge's or a resend's expected second answer counted).
    assert_eq!(summary["duplicates"], 0, "{summary}");
}

/// The pong events plus `seen` (pongs read earlier) cover 1..=count exactly once.
pub fn all_answered_once(seen: Vec<u64>, events: &[Value], count: u64) {
    let mut seqs: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "pong")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    seqs.extend(seen);
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=count).collect::<Vec<u64>>());
}
