//! What a ping costs the machine: CPU time (user + system) and system calls,
//! in the client process and in the server process, counted by `perf stat`
//! (`task-clock` and the `raw_syscalls:sys_enter` tracepoint).
//!
//! The client is run under `perf stat` from its start to its exit (its
//! start-up and handshake are in its figures, as they are in the baseline's);
//! the server, already running, is counted from just before the client starts
//! to just after it ends, through perf's control FIFO, whose acknowledgement
//! says when counting really started.

#![allow(dead_code)] // each benchmark uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// One process's cost per ping.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cost {
    /// CPU time per ping, µs.
    pub cpu_us: f64,
    /// System calls per ping.
    pub syscalls: f64,
}

/// The cost per ping on each side.
#[derive(Clone, Copy, Debug, Default)]
pub struct Costs {
    /// The client process.
    pub client: Cost,
    /// The server process.
    pub server: Cost,
}

const EVENTS: &str = "task-clock,raw_syscalls:sys_enter";

/// Whether `perf stat` can count CPU time and system calls here (it needs
/// `perf` from linux-perf and access to tracepoints, as root has); says why
/// not, once.
pub fn available() -> bool {
    let ok = Command::new("perf")
        .args(["stat", "-x", ",", "-e", EVENTS, "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "cost per ping: not measured (`perf stat -e {EVENTS}` failed: install linux-perf and run as root)"
        );
    }
    ok
}

/// Runs `client` on CPU `cpu` under `perf stat` while counting the server
/// process `server_pid`; the client's output and the cost of each side per
/// ping.
pub fn measure(server_pid: u32, client: &Command, cpu: usize, pings: u64) -> (Output, Costs) {
    let dir = tempfile::tempdir().unwrap();
    let (ctl, ack) = (dir.path().join("ctl"), dir.path().join("ack"));
    for fifo in [&ctl, &ack] {
        let status = Command::new("mkfifo").arg(fifo).status().unwrap();
        assert!(status.success(), "mkfifo {}", fifo.display());
    }
    let server_out = dir.path().join("server.csv");
    let mut server_perf = Command::new("perf")
        .args(["stat", "-x", ",", "-e", EVENTS, "-D", "-1", "--control"])
        .arg(format!("fifo:{},{}", ctl.display(), ack.display()))
        .arg("-o")
        .arg(&server_out)
        .args(["-p", &server_pid.to_string()])
        .stdout(Stdio::null())
        // "Events enabled", "Events disabled".
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // perf opens the control FIFO for reading, the acknowledgement one for
    // writing: these opens wait for it.
    let mut control = std::fs::OpenOptions::new().write(true).open(&ctl).unwrap();
    let mut acks = BufReader::new(std::fs::File::open(&ack).unwrap());
    let mut command = |word: &str| {
        writeln!(control, "{word}").unwrap();
        let mut line = String::new();
        acks.read_line(&mut line).unwrap();
        // perf acknowledges with "ack\n\0".
        assert_eq!(
            line.trim_matches(|c: char| c == '\0' || c.is_whitespace()),
            "ack",
            "perf control: {word}"
        );
    };
    command("enable");
    let client_out = dir.path().join("client.csv");
    let mut wrapped = Command::new("perf");
    wrapped
        .args(["stat", "-x", ",", "-e", EVENTS, "-o"])
        .arg(&client_out)
        .arg("--")
        .arg(client.get_program())
        .args(client.get_args());
    for (key, value) in client.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let output = crate::process::pin(&mut wrapped, cpu)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    command("disable");
    // SAFETY: kill has no memory preconditions; SIGINT makes perf write its counts.
    unsafe { libc::kill(server_perf.id() as i32, libc::SIGINT) };
    server_perf.wait().unwrap();
    let costs = Costs {
        client: per_ping(&client_out, pings),
        server: per_ping(&server_out, pings),
    };
    (output, costs)
}

/// `perf stat -x ,` output: task-clock (ms) and system calls, per ping.
fn per_ping(file: &Path, pings: u64) -> Cost {
    let text = std::fs::read_to_string(file).unwrap();
    let value = |event: &str| -> f64 {
        text.lines()
            .find(|l| l.split(',').nth(2) == Some(event))
            .and_then(|l| l.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {event} count in perf's output: {text}"))
    };
    Cost {
        cpu_us: value("task-clock") * 1e3 / pings as f64,
        syscalls: value("raw_syscalls:sys_enter") / pings as f64,
    }
}
