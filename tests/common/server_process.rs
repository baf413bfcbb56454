//! A real `pingpong server` process: started, read, signalled, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pingpong::tls::{CertPaths, LeafRole};

use super::*;

/// A running `pingpong server` process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout_lines: mpsc::Receiver<String>,
    pub stderr: Arc<(Mutex<String>, Condvar)>,
}

impl ServerProcess {
    /// Starts `pingpong server --no-mdns --listen 127.0.0.1:0 <args>` in the
    /// machine's namespace and waits for its "listening on" line.
    pub fn start(args: &[String], envs: &[(&str, &Path)]) -> Self {
        let mut all = strings(&["--no-mdns"]);
        all.extend_from_slice(args);
        Self::launch(Command::new(bin()), &all, envs)
    }

    /// Starts `pingpong server <args>` inside `netns`, advertising over mDNS.
    pub fn start_in(netns: &Netns, args: &[String], envs: &[(&str, &Path)]) -> Self {
        Self::launch(netns.command(bin()), args, envs)
    }

    /// Starts an advertising `pingpong server <args>` in the current namespace.
    /// Only for code already running inside a test's [`Netns`].
    pub fn start_advertising_here(args: &[String], envs: &[(&str, &Path)]) -> Self {
        assert!(
            std::env::var_os(IN_NETNS).is_some(),
            "mDNS outside a test namespace"
        );
        Self::launch(Command::new(bin()), args, envs)
    }

    fn launch(mut command: Command, args: &[String], envs: &[(&str, &Path)]) -> Self {
        command.arg("server");
        if !args.iter().any(|a| a == "--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.args(args);
        for (k, v) in envs {
            command.env(k, v);
        }
        Self::spawn(command)
    }

    /// Spawns a ready-made `... pingpong server ...` command and waits for its
    /// "listening on" line.
    pub fn spawn(mut command: Command) -> Self {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info");
        let mut child = command.spawn().expect("spawn pingpong server");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.0.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
                sink.1.notify_all();
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| {
                    panic!(
                        "server did not report its address; stderr:\n{}",
                        stderr.0.lock().unwrap()
                    )
                });
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr: SocketAddr = rest.split_whitespace().next().unwrap().parse().unwrap();
                break addr;
            }
        };
        Self {
            child,
            addr,
            stdout_lines: rx,
            stderr,
        }
    }

    /// Starts the Python server (`pingpong-server --listen 127.0.0.1:0
    /// --no-mdns`) with the server files of `paths` and `extra` arguments.
    pub fn start_python(paths: &CertPaths, extra: &[&str]) -> Self {
        let mut command = Command::new(python_server_bin());
        command
            .args(["--listen", "127.0.0.1:0", "--no-mdns"])
            .args(tls_args(paths, LeafRole::Server))
            .args(extra);
        Self::spawn(command)
    }

    /// Starts a server with the given certificate, key and CA files.
    pub fn start_with_files(cert: &Path, key: &Path, ca: &Path) -> Self {
        let arg = |p: &Path| p.display().to_string();
        Self::start(
            &[
                "--cert".into(),
                arg(cert),
                "--key".into(),
                arg(key),
                "--ca".into(),
                arg(ca),
            ],
            &[],
        )
    }

    /// `https://127.0.0.1:PORT/pingpong`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/pingpong", self.addr.port())
    }

    /// Sends a signal (`libc::SIGTERM`, ...) to the server process.
    pub fn signal(&self, signal: i32) {
        send_signal(&self.child, signal);
    }

    /// Waits for the process to exit, failing the test after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        use wait_timeout::ChildExt;
        match self.child.wait_timeout(timeout).unwrap() {
            Some(status) => status,
            None => panic!(
                "server did not exit within {timeout:?}; logs:\n{}",
                self.logs()
            ),
        }
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.stderr.0.lock().unwrap().clone()
    }

    /// Waits until the server's log contains `needle` `times` times, failing
    /// after `timeout`.
    pub fn wait_for_log_count(&self, needle: &str, times: usize, timeout: Duration) {
        let (lock, cond) = &*self.stderr;
        let guard = lock.lock().unwrap();
        let (guard, result) = cond
            .wait_timeout_while(guard, timeout, |logs| logs.matches(needle).count() < times)
            .unwrap();
        assert!(
            !result.timed_out(),
            "server did not log {needle:?} {times} times; logs:\n{}",
            *guard
        );
    }

    /// Waits until the server (Rust or Python) logs that its records are in
    /// DNS: a "registered in DNS" line, not the "not registered in DNS: ...;
    /// retrying" of an attempt that failed (a DNS server still starting).
    pub fn wait_for_registered(&self, timeout: Duration) {
        let registered = |logs: &String| {
            logs.lines()
                .any(|l| l.contains("registered in DNS") && !l.contains("not registered in DNS"))
        };
        let (lock, cond) = &*self.stderr;
        let guard = lock.lock().unwrap();
        let (guard, result) = cond
            .wait_timeout_while(guard, timeout, |logs| !registered(logs))
            .unwrap();
        assert!(
            !result.timed_out(),
            "server never logged that it is registered in DNS; logs:\n{}",
            *guard
        );
    }

    /// Waits until the server's log contains `needle`, failing after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let (lock, cond) = &*self.stderr;
        let guard = lock.lock().unwrap();
        let (guard, result) = cond
            .wait_timeout_while(guard, timeout, |logs| !logs.contains(needle))
            .unwrap();
        assert!(
            !result.timed_out(),
            "server never logged {needle:?}; logs:\n{}",
            *guard
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal to a child process.
pub fn send_signal(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) has no memory effects; the pid is our own live child.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}
