//! The README's "Install" section, run as written: the Debian package installed
//! in a container that boots systemd (this host's own system on a throwaway
//! overlay, in a network namespace), its hardened unit serving a client on
//! another host over mDNS and QUIC, following an address change, registering
//! in BIND and draining on stop; then completions, man pages and the Python
//! server's wheel on this machine.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::container::Container;
use common::named::{self, Named, NAMED_A, ZONE};
use common::readme;
use common::*;
use serde_json::Value;

/// What the README's first line makes.
const DEB: &str = "target/debian/pingpong_0.1.0-1_amd64.deb";

/// `sudo` in the container, where every line already runs as root: `sudo -u
/// USER CMD` is `runuser`, `sudo CMD` is `CMD`.
const SUDO: &str =
    "sudo() { if [ \"$1\" = -u ]; then u=$2; shift 2; runuser -u \"$u\" -- \"$@\"; else \"$@\"; fi; }";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README's `scripts/deb`, packaging the binary the tests already built
/// (a release build would take minutes, and any build here would replace the
/// binary other tests are running), its package copied to `work`.
fn build_package(work: &Path) {
    let out = Command::new(repo().join("scripts/deb"))
        .args(["--profile", "dev", "--no-build", "--fast"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/deb: {}", describe(&out));
    std::fs::create_dir_all(work.join("target/debian")).unwrap();
    std::fs::copy(repo().join(DEB), work.join(DEB))
        .unwrap_or_else(|e| panic!("scripts/deb made no {DEB}: {e}"));
    let contents = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(work.join(DEB))
        .output()
        .unwrap();
    let contents = String::from_utf8_lossy(&contents.stdout);
    for path in [
        "./usr/bin/pingpong",
        "./usr/lib/systemd/system/pingpong.service",
        "./etc/default/pingpong",
        "./usr/share/man/man1/pingpong-server.1.gz",
        "./usr/share/bash-completion/completions/pingpong",
        "./usr/share/zsh/vendor-completions/_pingpong",
        "./usr/share/fish/vendor_completions.d/pingpong.fish",
    ] {
        assert!(contents.contains(path), "{DEB} has no {path}:\n{contents}");
    }
    // Debian's own checks: no error (the warnings are listed in docs/install.md).
    let lintian = Command::new("lintian")
        .args(["--fail-on", "error"])
        .arg(work.join(DEB))
        .output()
        .expect("lintian is not installed: `apt-get install lintian` (scripts/test installs it)");
    println!("lintian:\n{}", String::from_utf8_lossy(&lintian.stdout));
    assert!(lintian.status.success(), "lintian: {}", describe(&lintian));
}

/// Waits for the first event about `web3` that `check` accepts.
fn event_where(
    events: &mpsc::Receiver<Value>,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("the watch never saw {what}"));
        if event["instance"] == "web3" && check(&event) {
            return event;
        }
    }
}

/// The unit's status line, as `systemctl status` shows it.
fn status_text(container: &Container) -> String {
    container
        .ok("systemctl show --property StatusText --value pingpong")
        .trim()
        .to_string()
}

#[test]
fn the_package_installs_a_hardened_service_that_serves_the_lan() {
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The CA machine (this test) and the viewer, a host with a client certificate.
    let ca_home = dir.path().join("ca");
    let init = Command::new(bin())
        .args(["certs", "init", "--dir"])
        .arg(&ca_home)
        .output()
        .unwrap();
    assert!(init.status.success(), "certs init: {}", describe(&init));
    let ca = pingpong::tls::CertPaths::new(&ca_home);
    let viewer = dir.path().join("viewer");
    host_pki(&ca, &viewer, "viewer");
    let (mut watcher, events) = watch(&lan, 1, &viewer);

    let container = Container::boot(&lan.hosts[0], "web3", &work);
    let lines = readme::shell_lines("As a service on Debian");
    assert!(lines.len() >= 8, "{lines:?}");
    for line in &lines {
        if line.starts_with("scripts/deb") {
            build_package(&work);
            continue;
        }
        if line.starts_with('#') {
            // The CA machine signs the request the host made.
            if line.contains("certs sign") {
                let csr = container.ok("cat /etc/pingpong/server.csr");
                std::fs::write(work.join("server.csr"), csr).unwrap();
                let out = Command::new(bin())
                    .args(["certs", "sign", "server", "server.csr", "--dir"])
                    .arg(&ca_home)
                    .current_dir(&work)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "certs sign: {}", describe(&out));
            }
            continue;
        }
        let run = container.sh(&format!("{SUDO}; {line}"));
        assert!(
            run.status.success(),
            "`{line}` in the container: {}\nthe service's journal:\n{}",
            describe(&run),
            String::from_utf8_lossy(
                &container
                    .sh("journalctl -u pingpong --no-pager -o cat -n 20")
                    .stdout
            )
        );
        let out = String::from_utf8_lossy(&run.stdout);
        if line.starts_with("sudo systemctl enable --now") {
            // Type=notify: started means READY=1 arrived, with its status line.
            assert_eq!(
                container.ok("systemctl is-active pingpong").trim(),
                "active"
            );
            assert_eq!(status_text(&container), "serving on [::]:4433 as \"web3\"");
            let user = container
                .ok("ps -o user= -p $(systemctl show --property MainPID --value pingpong)");
            assert_eq!(user.trim(), "pingpong");
        }
        if line.starts_with("systemctl status") {
            assert!(
                out.contains("Status: \"serving on [::]:4433 as \"web3\"\""),
                "{out}"
            );
        }
        if line.starts_with("sudo systemctl restart") {
            // The flag the line before added: the operations endpoint answers.
            let ready = container.ok(
                "bash -c \"exec 3<>/dev/tcp/127.0.0.1/9464; printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3\"",
            );
            assert!(ready.starts_with("HTTP/1.0 200"), "{ready}");
        }
        if line.starts_with("man ") {
            assert!(out.contains("pingpong-server - Run a server"), "{out}");
        }
    }

    // The unit as installed: clean, and rated OK (at most 2.0).
    let verify = container.sh("systemd-analyze verify pingpong.service");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "{}",
        describe(&verify)
    );
    let security = container.ok("systemd-analyze security --no-pager pingpong.service");
    let rating = exposure(&security);
    println!("systemd-analyze security: {rating}");
    assert!(rating <= 2.0, "{security}");

    // mDNS and QUIC through the hardening: the viewer finds web3 and pings it.
    let added = event_where(&events, "web3 arrive", |e| e["event"] == "added");
    assert!(
        addresses(&added).contains(&"10.77.0.1:4433".to_string()),
        "{added}"
    );
    let out = on_host(&lan.hosts[1], "viewer", &viewer)
        .args(["client", "-c", "3", "-i", "0.2", "--mdns-interface", "eth0"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout.contains("server \"web3\""), "{stdout}");
    assert!(
        stdout.contains("3 pings transmitted, 3 received, 0% loss"),
        "{stdout}"
    );

    // The watchdog is fed: with a 1 s period (pings every 0.5 s), the same
    // process is still serving after four periods, never restarted.
    container.ok(
        "mkdir -p /etc/systemd/system/pingpong.service.d && \
         printf '[Service]\\nWatchdogSec=1s\\n' > /etc/systemd/system/pingpong.service.d/watchdog.conf && \
         systemctl daemon-reload && systemctl restart pingpong",
    );
    let pid = container.ok("systemctl show --property MainPID --value pingpong");
    // Time passing is what is tested here: the watchdog fires only after it.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        container.ok("systemctl show --property MainPID --value pingpong"),
        pid
    );
    assert_eq!(
        container
            .ok("systemctl show --property NRestarts --value pingpong")
            .trim(),
        "0"
    );
    container
        .ok("rm /etc/systemd/system/pingpong.service.d/watchdog.conf && systemctl daemon-reload");

    // Address following (netlink) through the hardening: a new address is advertised.
    lan.hosts[0].ip(&["addr", "add", "10.77.0.50/24", "dev", "eth0"]);
    event_where(&events, "the new address", |e| {
        addresses(e).contains(&"10.77.0.50:4433".to_string())
    });

    // RFC 2136 registration through the hardening: BIND on the viewer's host,
    // its key beside the certificates, flags from /etc/default/pingpong.
    lan.hosts[1].ip(&["addr", "add", &format!("{NAMED_A}/32"), "dev", "eth0"]);
    lan.hosts[0].ip(&["route", "add", &format!("{NAMED_A}/32"), "dev", "eth0"]);
    let bind = Named::start(&|p| lan.hosts[1].command(p), dir.path(), &[NAMED_A]);
    std::fs::copy(&bind.key, work.join("update.key")).unwrap();
    container.ok(&format!(
        "install -o pingpong -g pingpong -m 0600 update.key /etc/pingpong/ && \
         echo 'PINGPONG_SERVER_FLAGS=\"--register-dns {ZONE} --register-server {NAMED_A} \
         --tsig-key /etc/pingpong/update.key --register-address 10.77.0.1\"' >> /etc/default/pingpong && \
         systemctl restart pingpong"
    ));
    let srv = format!("web3._pingpong._udp.{ZONE}");
    let launch = |p: &str| lan.hosts[1].command(p);
    wait_for_srv(&container, &launch, &srv, true);

    send_signal(&watcher, libc::SIGINT);
    watcher.wait().unwrap();

    // Stopping with a session open: systemd shows the drain, the goodbye
    // reaches the viewer, and the records leave the zone. (A new watch: the
    // first saw the restarts' goodbyes too.)
    let (mut watcher, events) = watch(&lan, 1, &viewer);
    event_where(&events, "web3 arrive again", |e| e["event"] == "added");
    let mut client = on_host(&lan.hosts[1], "viewer", &viewer)
        .args(["client", "-i", "0.2", "--mdns-interface", "eth0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pongs = BufReader::new(client.stdout.take().unwrap()).lines();
    assert!(
        pongs.any(|l| l.is_ok_and(|l| l.contains("seq="))),
        "the client got no pong"
    );
    container.ok("systemctl stop pingpong");
    event_where(&events, "web3 leave", |e| e["event"] == "removed");
    wait_for_srv(&container, &launch, &srv, false);
    let state = container.sh("systemctl is-active pingpong");
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "inactive");
    // systemd keeps a unit's last status line after it stops: the drain's.
    assert_eq!(
        status_text(&container),
        "draining: sessions are told to move (up to 5 s)"
    );
    let _ = client.kill();
    let _ = client.wait();
    send_signal(&watcher, libc::SIGINT);
    watcher.wait().unwrap();
    drop(bind);
}

/// Polls BIND until web3's SRV record is there (or gone); the server's
/// journal if it never is.
fn wait_for_srv(container: &Container, launch: named::Launcher<'_>, srv: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = named::dig(launch, NAMED_A, srv, "SRV");
        if records.iter().any(|r| r.contains("web3")) == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "web3's SRV record never {}: {records:?}; the server's journal:\n{}",
            if present { "came" } else { "went" },
            container.ok("journalctl -u pingpong --no-pager -o cat -n 30")
        );
        // Polling a DNS server: nothing to wait on but its answers.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// "Overall exposure level for pingpong.service: 1.1 OK" → 1.1.
fn exposure(report: &str) -> f64 {
    report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for pingpong.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"))
}

#[test]
fn the_unit_file_rates_ok_before_it_is_installed() {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(repo().join("deploy/systemd/pingpong.service"))
        .output()
        .expect("systemd-analyze (package systemd)");
    let report = String::from_utf8_lossy(&out.stdout);
    let rating = exposure(&report);
    println!("systemd-analyze security --offline=true: {rating}");
    assert!(rating <= 2.0, "{report}");
}

#[test]
fn completions_man_pages_and_the_python_wheel_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // A copy of python/, so the build writes nothing into the checkout.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(repo().join("python"))
        .arg(&work)
        .status()
        .unwrap();
    assert!(copied.success());
    // A CA with a server certificate for loopback and a client certificate.
    let certs = dir.path().join("certs");
    pki(&certs, "wheel test CA");
    let wheels = repo().join("target/wheels");
    assert!(
        wheels.is_dir(),
        "{} is missing: run scripts/test (it downloads the wheels)",
        wheels.display()
    );
    let netns = Netns::new();
    let bin_dir = Path::new(bin()).parent().unwrap().display().to_string();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap());
    let shell = |line: &str| {
        let mut command = netns.command("bash");
        command
            .args(["-c", line])
            .current_dir(&work)
            .env("HOME", &home)
            .env("PATH", &path)
            .env("PINGPONG_HOME", &certs)
            // No network in here: pip installs from what scripts/test downloaded.
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &wheels)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        command
    };
    let lines = readme::shell_lines("Completions, man pages, the Python server");
    for line in &lines {
        if line.contains("pingpong-server --listen") {
            // A server: it must serve the Rust client.
            let server = ServerProcess::spawn(shell(line));
            assert_eq!(server.addr.port(), 4433);
            let out = netns
                .command(bin())
                .args([
                    "client",
                    "https://127.0.0.1:4433/pingpong",
                    "-c",
                    "2",
                    "-i",
                    "0.2",
                ])
                .env("PINGPONG_HOME", &certs)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", describe(&out));
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("2 pings transmitted, 2 received"),
                "{}",
                describe(&out)
            );
            continue;
        }
        readme::succeeds(line, shell(line));
    }

    // The bash script is valid and completes a command and a flag.
    let script = home.join(".local/share/bash-completion/completions/pingpong");
    let checked = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", describe(&checked));
    let complete = |words: &str, cword: usize| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _pingpong pingpong \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("pingpong ser", 1), ["server"]);
    assert_eq!(complete("pingpong server --drain", 2), ["--drain-timeout"]);
    for shell_name in ["zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(bin())
            .args(["completions", shell_name])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.len() > 1000,
            "{shell_name}: {}",
            describe(&out)
        );
    }

    // One page per command, each rendered by man without a warning.
    let pages: Vec<PathBuf> = std::fs::read_dir(home.join(".local/share/man/man1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for command in [
        "pingpong.1",
        "pingpong-server.1",
        "pingpong-client.1",
        "pingpong-certs-sign.1",
    ] {
        assert!(
            pages.iter().any(|p| p.ends_with(command)),
            "no {command} in {pages:?}"
        );
    }
    for page in &pages {
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
            .expect("man (package man-db)");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}: {}",
            page.display(),
            describe(&out)
        );
    }

    // The wheel and the sdist, and the fresh venv's server came from the wheel.
    let dist: Vec<String> = std::fs::read_dir(work.join("python/dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dist.contains(&"pingpong_server-0.1.0.tar.gz".to_string()),
        "{dist:?}"
    );
    let origin = Command::new(home.join("pingpong-py/bin/python"))
        .args([
            "-c",
            "import pingpong_server; print(pingpong_server.__file__)",
        ])
        .output()
        .unwrap();
    let origin = String::from_utf8_lossy(&origin.stdout);
    assert!(origin.contains("pingpong-py/lib/"), "{origin}");
}
