//! The README's certificate workflow, run as written: every command of its
//! "Certificates" section, in order, on the machine its comments name ("on the
//! CA machine", "on the laptop"; the CA machine first). Each machine is a home
//! folder (`$HOME`, with the certificates in the default
//! `~/.local/share/pingpong`); `scp` copies between them. Anything else in the
//! section fails the test, so that the README and this test change together.

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
