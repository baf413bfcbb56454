//! The README's certificate workflow, run as written: every command of its
//! "Certificates" section, in order, on the machine its comments name ("on the
//! CA machine", "on the laptop"; the CA machine first). Each machine is a home
//! folder (`$HOME`, with the certificates in the default
//! `~/.local/share/pingpong`); `scp` copies between them. Anything else in the
//! section fails the test, so that the README and this test change together.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::readme;
use common::*;

/// The machine a comment puts the following commands on, if it names one.
fn machine_named(comment: &str) -> Option<&'static str> {
    let lower = comment.to_lowercase();
    if lower.contains("on the ca machine") {
        Some("ca")
    } else if lower.contains("on the laptop") {
        Some("laptop")
    } else {
        None
    }
}

/// One home folder per machine, made on first use.
struct Machines {
    root: tempfile::TempDir,
    homes: HashMap<String, PathBuf>,
}

impl Machines {
    fn home(&mut self, name: &str) -> PathBuf {
        let root = self.root.path().to_path_buf();
        self.homes
            .entry(name.to_string())
            .or_insert_with(|| {
                let home = root.join(name);
                std::fs::create_dir_all(&home).unwrap();
                home
            })
            .clone()
    }
}

/// `scp [-r] SRC... HOST:DEST`, between the machines' home folders.
fn scp(machines: &mut Machines, from: &Path, args: &[&str]) {
    let recursive = args.first() == Some(&"-r");
    let args = if recursive { &args[1..] } else { args };
    let (target, sources) = args.split_last().expect("scp SRC... HOST:DEST");
    let (host, dest) = target
        .split_once(':')
        .expect("scp's last word is HOST:PATH");
    let machine = host.trim_end_matches(".lan");
    let dest = machines.home(machine).join(dest);
    for source in sources {
        let source = from.join(source);
        if recursive && source.is_dir() {
            assert!(
                !dest.exists(),
                "{} exists: scp -r would nest",
                dest.display()
            );
            std::fs::create_dir_all(&dest).unwrap();
            for entry in std::fs::read_dir(&source).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), dest.join(entry.file_name())).unwrap();
            }
        } else {
            let name = source.file_name().unwrap();
            std::fs::create_dir_all(&dest).unwrap();
            std::fs::copy(&source, dest.join(name))
                .unwrap_or_else(|e| panic!("scp {}: {e}", source.display()));
        }
    }
}

#[test]
fn the_certificate_workflow_runs_as_the_readme_writes_it() {
    let mut machines = Machines {
        root: tempfile::tempdir().unwrap(),
        homes: HashMap::new(),
    };
    let mut current = "ca";
    let mut shown = String::new();
    let lines = readme::shell_lines("Certificates");
    assert!(
        lines.iter().any(|l| l.starts_with("pingpong certs sign")),
        "{lines:?}"
    );
    for line in &lines {
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(machine) = machine_named(comment) {
                current = machine;
            }
            continue;
        }
        let command = line.split(" #").next().unwrap().trim();
        if command.is_empty() {
            continue;
        }
        let home = machines.home(current);
        let words: Vec<&str> = command.split_whitespace().collect();
        match words[0] {
            "pingpong" => {
                let out = Command::new(bin())
                    .args(&words[1..])
                    .current_dir(&home)
                    .env("HOME", &home)
                    .env_remove("PINGPONG_HOME")
                    .env_remove("XDG_DATA_HOME")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "README line `{command}` on the {current} machine: {}",
                    describe(&out)
                );
                if words[1..] == ["certs", "show"] {
                    shown = String::from_utf8_lossy(&out.stdout).into_owned();
                }
            }
            "scp" => scp(&mut machines, &home, &words[1..]),
            other => panic!("README line `{command}`: this test does not know `{other}`"),
        }
    }
    // What the laptop ended with fits together.
    assert!(shown.contains("client \"alice\""), "{shown}");
    assert!(shown.contains("chains to ca.pem"), "{shown}");
    assert!(shown.contains("client.key  matches client.pem"), "{shown}");
    // web2 got a complete folder, and the CA's key stayed home.
    let web2 = machines.home("web2").join(".local/share/pingpong");
    for file in ["server.pem", "server.key", "ca.pem"] {
        assert!(web2.join(file).exists(), "{file} missing on web2");
    }
    for machine in ["web2", "laptop"] {
        let home = machines.home(machine).join(".local/share/pingpong");
        assert!(!home.join("ca.key").exists(), "ca.key reached {machine}");
    }
}

/// `pingpong ARGS` inside `netns`, in the working folder `dir`, with the
/// certificates of `home`.
fn pingpong_in(netns: &Netns, dir: &Path, home: &Path, args: &[&str]) -> Command {
    let mut command = netns.command(bin());
    command
        .args(args)
        .current_dir(dir)
        .env("PINGPONG_HOME", home);
    command
}

#[test]
fn the_server_section_runs_as_written() {
    // The CA machine after the Certificates section: its own server and
    // client leaves (alice), and the web2/ folder made for another machine.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let netns = Netns::new();
    for setup in [
        &["certs", "init"][..],
        &["certs", "issue", "server", "--name", "web1"],
        &["certs", "issue", "client", "--name", "alice"],
        &[
            "certs", "issue", "server", "--name", "web2", "--out", "web2",
        ],
        &[
            "certs", "issue", "client", "--name", "carol", "--out", "carol",
        ],
    ] {
        let out = pingpong_in(&netns, dir.path(), &home, setup)
            .output()
            .unwrap();
        assert!(out.status.success(), "{setup:?}: {}", describe(&out));
    }
    let ping = |port: u16, extra: &[&str]| {
        let url = format!("127.0.0.1:{port}");
        let mut args = vec!["client", url.as_str(), "-c", "1"];
        args.extend_from_slice(extra);
        pingpong_in(&netns, dir.path(), &home, &args)
            .output()
            .unwrap()
    };
    let lines = readme::commands("Server");
    let mut ran = 0;
    for command in &lines {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(
            words.get(..2),
            Some(&["pingpong", "server"][..]),
            "README line `{command}`"
        );
        let mut server = ServerProcess::spawn(pingpong_in(&netns, dir.path(), &home, &words[1..]));
        let port = server.addr.port();
        assert_ne!(port, 0, "`{command}` did not print its real port");
        if words.contains(&"--listen") {
            assert_eq!(server.addr.ip().to_string(), "127.0.0.1", "`{command}`");
        } else {
            assert_eq!(port, 4433, "`{command}`: the default port");
        }
        // web2's certificate names web2, not 127.0.0.1: check that name.
        let out = if words.contains(&"web2/server.pem") {
            ping(port, &["--json", "--server-name", "web2"])
        } else {
            ping(port, &["--json"])
        };
        assert_eq!(
            out.status.code(),
            Some(0),
            "`{command}`: {}",
            describe(&out)
        );
        let header: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap())
                .unwrap();
        if let Some(i) = words.iter().position(|w| *w == "--instance") {
            assert_eq!(header["instance"], words[i + 1], "`{command}`: {header}");
            assert_eq!(
                header["server_cert"]["name"], "web2",
                "`{command}`: {header}"
            );
        }
        if words.contains(&"--allow-client") {
            // alice is on the list; carol, of the same CA, is refused and told why.
            let out = ping(
                port,
                &[
                    "--cert",
                    "carol/client.pem",
                    "--key",
                    "carol/client.key",
                    "--ca",
                    "carol/ca.pem",
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "`{command}`: {}",
                describe(&out)
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("admits only named clients"),
                "`{command}`: {}",
                describe(&out)
            );
        }
        // "stops cleanly on SIGINT/SIGTERM (exit 0)".
        server.signal(libc::SIGTERM);
        let status = server.wait_exit(std::time::Duration::from_secs(15));
        assert_eq!(status.code(), Some(0), "`{command}`: {}", server.logs());
        ran += 1;
    }
    assert_eq!(ran, 4, "{lines:?}");
}
