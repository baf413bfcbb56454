//! A real BIND 9 (`named`) holding a zone that takes RFC 2136 updates signed
//! with a TSIG key, and `dig`/`nsupdate` against it. Needs only std, so the
//! wide-area benchmark includes it too (`#[path]`); processes are started
//! through a launcher (`|program| netns.command(program)`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The zone the tests register in.
pub const ZONE: &str = "lab.test";
/// The router's (and named's) address on the servers' subnet.
pub const NAMED_A: &str = "10.81.0.254";
/// The router's (and named's) address on the clients' subnet.
pub const NAMED_B: &str = "10.82.0.254";
/// The TSIG key's name in named.conf.
pub const KEY_NAME: &str = "pingpong-update";

/// Makes a `Command` for a program, in the right namespace.
pub type Launcher<'a> = &'a dyn Fn(&str) -> Command;

/// `named`, authoritative for [`ZONE`], killed when dropped.
pub struct Named {
    child: Child,
    log: Arc<(Mutex<String>, Condvar)>,
    /// Its folder: configuration, zone, journal, keys.
    pub dir: PathBuf,
    /// The key the zone allows updates with (BIND format).
    pub key: PathBuf,
}

impl Named {
    /// Starts named listening on `addresses`, with [`ZONE`] (SOA, NS
    /// `ns.ZONE` at the first address) updatable with a fresh key.
    pub fn start(launch: Launcher<'_>, dir: &Path, addresses: &[&str]) -> Self {
        Self::start_with_zones(launch, dir, addresses, &[], &[])
    }

    /// [`start`](Self::start), plus the zones `updatable` (the same key
    /// may update them) and `locked` (no update at all).
    pub fn start_with_zones(
        launch: Launcher<'_>,
        dir: &Path,
        addresses: &[&str],
        updatable: &[&str],
        locked: &[&str],
    ) -> Self {
        let dir = dir.join("named");
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("update.key");
        keygen(&key);
        let mut zones = format!("include \"{}\";\n", key.display());
        let grant = format!("update-policy {{ grant {KEY_NAME} zonesub ANY; }}");
        for (zone, policy) in std::iter::once(ZONE)
            .chain(updatable.iter().copied())
            .map(|zone| (zone, grant.clone()))
            .chain(
                locked
                    .iter()
                    .map(|zone| (*zone, "allow-update { none; }".to_string())),
            )
        {
            let file = dir.join(format!("{zone}.zone"));
            std::fs::write(
                &file,
                format!(
                    "$TTL 60\n@ IN SOA ns.{zone}. admin.{zone}. 1 3600 600 86400 10\n@ IN NS ns.{zone}.\nns IN A {}\n",
                    addresses[0]
                ),
            )
            .unwrap();
            zones.push_str(&format!(
                "zone \"{zone}\" {{\n type primary;\n file \"{}\";\n {policy};\n}};\n",
                file.display()
            ));
        }
        Self::run(launch, &dir, addresses, &zones, key)
    }

    /// Starts named in `dir` listening on `addresses` with the zone
    /// statements `zones` (a configuration as an operator writes it), the
    /// key in `key`.
    pub fn run(
        launch: Launcher<'_>,
        dir: &Path,
        addresses: &[&str],
        zones: &str,
        key: PathBuf,
    ) -> Self {
        for program in ["named", "tsig-keygen"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|out| out.status.success());
            assert!(
                found,
                "{program} is not installed: `apt-get install bind9` (scripts/test installs it)"
            );
        }
        let d = dir.display();
        let listen: String = addresses.iter().map(|a| format!("{a}; ")).collect();
        let conf = dir.join("named.conf");
        std::fs::write(
            &conf,
            format!(
                "options {{\n directory \"{d}\";\n pid-file none;\n session-keyfile \"{d}/session.key\";\n \
                 listen-on port 53 {{ {listen}}};\n listen-on-v6 {{ none; }};\n recursion no;\n \
                 dnssec-validation no;\n notify no;\n}};\n{zones}"
            ),
        )
        .unwrap();
        let mut child = launch("named")
            .args(["-g", "-n", "1", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start named");
        let log = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (text, changed) = &*sink;
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        let named = Self {
            child,
            log,
            dir: dir.to_path_buf(),
            key,
        };
        named.wait_for_log("running", Duration::from_secs(20));
        named
    }

    /// Everything named logged so far.
    pub fn logs(&self) -> String {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits until named logs `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (text, changed) = &*self.log;
        let mut text = text.lock().unwrap();
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "named never logged {needle:?}:\n{text}");
            text = changed.wait_timeout(text, left).unwrap().0;
        }
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a fresh hmac-sha256 key named [`KEY_NAME`] to `path` (0600).
pub fn keygen(path: &Path) {
    let out = Command::new("tsig-keygen")
        .args(["-a", "hmac-sha256", KEY_NAME])
        .output()
        .expect("tsig-keygen");
    assert!(out.status.success());
    std::fs::write(path, &out.stdout).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `dig +short @server NAME TYPE`, sorted lines.
pub fn dig(launch: Launcher<'_>, server: &str, name: &str, kind: &str) -> Vec<String> {
    let out = dig_output(launch, server, name, kind);
    assert!(out.status.success(), "dig {name} {kind}: {out:?}");
    sorted_lines(&out)
}

/// The same, `None` while no server answers (dig's exit status 9: named may
/// log that it runs before its socket on a loopback address is open, and a
/// query then meets "connection refused").
fn dig_if_answered(
    launch: Launcher<'_>,
    server: &str,
    name: &str,
    kind: &str,
) -> Option<Vec<String>> {
    let out = dig_output(launch, server, name, kind);
    if out.status.code() == Some(9) {
        return None;
    }
    assert!(out.status.success(), "dig {name} {kind}: {out:?}");
    Some(sorted_lines(&out))
}

fn dig_output(launch: Launcher<'_>, server: &str, name: &str, kind: &str) -> std::process::Output {
    launch("dig")
        .args(["+short", "+norec", &format!("@{server}"), name, kind])
        .output()
        .unwrap()
}

fn sorted_lines(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Polls `dig` until `check` holds of its answer, or fails after `timeout`;
/// while named does not answer at all, it is waited for.
pub fn wait_for_records(
    launch: Launcher<'_>,
    name: &str,
    kind: &str,
    timeout: Duration,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = dig_if_answered(launch, NAMED_A, name, kind);
        if let Some(now) = now.as_ref().filter(|now| check(now)) {
            return now.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{name} {kind} never became as expected; last answer: {now:?}"
        );
        // Polling a DNS server: nothing to wait on but its answers.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `nsupdate -k KEY` with `commands` (a `send` is added).
pub fn nsupdate(launch: Launcher<'_>, key: &Path, commands: &str) {
    let mut child = launch("nsupdate")
        .arg("-k")
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsupdate");
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        format!("server {NAMED_A}\nzone {ZONE}\n{commands}\nsend\n").as_bytes(),
    )
    .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nsupdate {commands}: {out:?}");
}
