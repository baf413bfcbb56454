//! Network namespaces made for one test (where mDNS may run), and re-running a
//! test inside one.

use std::path::Path;
use std::process::Command;

use super::*;

/// A network namespace made for one test, deleted when dropped. mDNS only ever
/// runs inside one of these: its loopback has multicast turned on, and nothing
/// in it can reach the machine's real network.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Runs `ip <args>` inside the namespace, failing the test if it fails.
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", &self.name, "ip"];
        full.extend_from_slice(args);
        run_checked("ip", &full);
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, setting: &str) {
        run_checked(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-q", "-w", setting],
        );
    }

    /// Creates `pp-<pid>-<n>` with loopback up and IPv4 multicast routed on it.
    /// Needs root (`ip netns add`); fails the test loudly otherwise.
    pub fn new() -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("pp-{}-{n}", std::process::id());
        run_checked("ip", &["netns", "add", &name]);
        let ns = Self { name };
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "set", "lo", "multicast", "on"],
            vec!["route", "add", "224.0.0.0/4", "dev", "lo"],
        ] {
            let mut full = vec!["netns", "exec", &ns.name, "ip"];
            full.extend(args);
            run_checked("ip", &full);
        }
        ns
    }

    /// Adds a LAN-like link inside the namespace: a veth pair `pp0`/`pp1` with
    /// 10.99.0.1/24 on `pp0` (and IPv6 link-local addresses). Daemons that skip
    /// loopback, like avahi, use it.
    pub fn with_lan(self) -> Self {
        for args in [
            vec!["link", "add", "pp0", "type", "veth", "peer", "name", "pp1"],
            vec!["addr", "add", "10.99.0.1/24", "dev", "pp0"],
            vec!["link", "set", "pp0", "multicast", "on", "up"],
            vec!["link", "set", "pp1", "multicast", "on", "up"],
        ] {
            let mut full = vec!["netns", "exec", &self.name, "ip"];
            full.extend(args);
            run_checked("ip", &full);
        }
        self
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Netns {
    /// Gives processes in the namespace their own /etc/resolv.conf (`ip netns
    /// exec` bind-mounts /etc/netns/NAME/resolv.conf over it).
    pub fn set_resolv_conf(&self, contents: &str) {
        let dir = Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("resolv.conf"), contents).unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Nothing a test started in here outlives it, even when it panicked.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill(2) has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
    }
}

/// Set in the environment of a test re-run inside its namespace.
pub const IN_NETNS: &str = "PINGPONG_TEST_IN_NETNS";

/// Runs the calling test again inside a fresh namespace, where mDNS may run, and
/// checks that it passed there. Returns `true` in the outer run (the caller then
/// returns), `false` when already inside.
pub fn rerun_in_netns(test_name: &str) -> bool {
    if std::env::var_os(IN_NETNS).is_some() {
        return false;
    }
    let netns = Netns::new();
    let exe = std::env::current_exe().unwrap();
    let out = netns
        .command(exe.to_str().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test_name} failed inside its namespace:\n{}",
        describe(&out)
    );
    print!("{stdout}");
    true
}

fn run_checked(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (network namespace tests need iproute2 and root)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed (network namespace tests need root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
