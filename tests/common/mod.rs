//! Helpers for integration tests: certificate folders, and real `pingpong`
//! processes on loopback.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub mod cluster;
pub mod dnsmasq;
pub mod http;
mod json_client;
pub mod lan_lab;
pub mod named;
pub mod peers;
pub mod readme;
pub mod readme_blocks;
pub mod routed;
#[allow(unused_imports)] // only the tests that watch a client use it
pub use json_client::*;

use pingpong::tls::generate::{self, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pingpong")
}

/// The Python server's `pingpong-server` script: $PINGPONG_PYTHON_SERVER, else
/// the one `scripts/test` installs. Fails (never skips) when it is missing.
pub fn python_server_bin() -> String {
    let path = std::env::var_os("PINGPONG_PYTHON_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/pingpong-server")
        });
    assert!(
        path.exists(),
        "the Python server is not installed at {}: run scripts/test (it creates the venv and \
         installs python/), or set PINGPONG_PYTHON_SERVER",
        path.display()
    );
    path.display().to_string()
}

/// A built example (`cargo test` builds them next to the test binaries).
pub fn example(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} not built (cargo test builds the examples)",
        path.display()
    );
    path.display().to_string()
}

/// A certificate folder with a CA, a server leaf for loopback and a client leaf.
pub fn pki(dir: &Path, ca_name: &str) -> CertPaths {
    let paths = CertPaths::new(dir);
    store::init_single_host(&paths, ca_name, 30).unwrap();
    paths
}

/// Writes a leaf of `role` signed by the CA of `paths` into `out` as `<stem>.pem/.key`.
pub fn extra_leaf(
    paths: &CertPaths,
    out: &Path,
    stem: &str,
    role: LeafRole,
    name: &str,
    sans: &[&str],
    validity: Validity,
) -> (PathBuf, PathBuf) {
    let ca = store::load_ca(paths).unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let leaf = generate::issue_leaf(&ca, role, name, &sans, validity).unwrap();
    let cert = out.join(format!("{stem}.pem"));
    let key = out.join(format!("{stem}.key"));
    store::write_file(&cert, &leaf.cert, false, true).unwrap();
    store::write_file(&key, &leaf.key, true, true).unwrap();
    (cert, key)
}

/// A validity window that ended yesterday.
pub fn expired() -> Validity {
    let now = time::OffsetDateTime::now_utc();
    Validity {
        not_before: now - time::Duration::days(10),
        not_after: now - time::Duration::days(1),
    }
}

/// `--cert --key --ca` arguments for role files of a folder.
pub fn tls_args(paths: &CertPaths, role: LeafRole) -> Vec<String> {
    vec![
        "--cert".into(),
        paths.leaf_cert(role).display().to_string(),
        "--key".into(),
        paths.leaf_key(role).display().to_string(),
        "--ca".into(),
        paths.ca_cert().display().to_string(),
    ]
}

/// The JSON array a successful `pingpong ... --json` printed (`discover`).
pub fn json_array(out: &Output) -> Vec<serde_json::Value> {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    match serde_json::from_slice(&out.stdout) {
        Ok(serde_json::Value::Array(items)) => items,
        other => panic!("not a JSON array ({other:?}): {}", describe(out)),
    }
}

/// The addresses a `discover --json` entry lists.
pub fn listed_addresses(server: &serde_json::Value) -> Vec<&str> {
    server["addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("no addresses in {server}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

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

/// A bridge namespace and one namespace per host, each with `eth0` on the bridge.
pub struct Lan {
    pub bridge: Netns,
    pub hosts: Vec<Netns>,
    ports: Vec<String>,
}

impl Lan {
    /// `count` hosts `10.77.0.1..` on one bridge with multicast snooping off.
    pub fn new(count: usize) -> Self {
        Self::on_subnet(count, "10.77.0")
    }

    /// `count` hosts `PREFIX.1..` (a /24) on one bridge.
    pub fn on_subnet(count: usize, prefix: &str) -> Self {
        let bridge = Netns::new();
        bridge.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        bridge.ip(&["link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for i in 0..count {
            let host = Netns::new();
            // Link-local IPv6 addresses usable at once, without duplicate detection.
            host.sysctl("net.ipv6.conf.all.accept_dad=0");
            host.sysctl("net.ipv6.conf.default.accept_dad=0");
            let port = format!("h{i}-{}", std::process::id() % 10_000);
            bridge.ip(&[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &host.name,
            ]);
            bridge.ip(&["link", "set", &port, "master", "br0", "up"]);
            host.ip(&[
                "addr",
                "add",
                &format!("{prefix}.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
            host.ip(&["link", "set", "eth0", "multicast", "on", "up"]);
            hosts.push(host);
            ports.push(port);
        }
        Self {
            bridge,
            hosts,
            ports,
        }
    }
}

/// A certificate folder for `host`: the shared CA, a server certificate for
/// `<host>.local`, and a client certificate.
pub fn host_pki(ca: &CertPaths, dir: &Path, host: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(ca.ca_cert(), dir.join("ca.pem")).unwrap();
    let mine = CertPaths::new(dir);
    for (role, name, sans) in [
        (
            LeafRole::Server,
            host.to_string(),
            vec![format!("{host}.local")],
        ),
        (LeafRole::Client, format!("{host}-client"), vec![]),
    ] {
        let leaf = pingpong::tls::generate::issue_leaf(
            &store::load_ca(ca).unwrap(),
            role,
            &name,
            &sans,
            Validity::days(30),
        )
        .unwrap();
        store::write_file(&mine.leaf_cert(role), &leaf.cert, false, false).unwrap();
        store::write_file(&mine.leaf_key(role), &leaf.key, true, false).unwrap();
    }
}

/// `pingpong <args>` on `netns` with host name `host` (its own UTS namespace).
pub fn on_host(netns: &Netns, host: &str, home: &Path) -> Command {
    on_host_running(netns, host, home, bin())
}

/// `program <args>` on `netns` with host name `host` (its own UTS namespace).
pub fn on_host_running(netns: &Netns, host: &str, home: &Path, program: &str) -> Command {
    let mut command = netns.command("unshare");
    command
        .args([
            "--uts",
            "sh",
            "-c",
            &format!("hostname {host} && exec \"$0\" \"$@\""),
            program,
        ])
        .env("PINGPONG_HOME", home);
    command
}

impl Lan {
    /// Takes host `i`'s link to the bridge down or up.
    pub fn set_link(&self, i: usize, up: bool) {
        self.bridge.ip(&[
            "link",
            "set",
            &self.ports[i],
            if up { "up" } else { "down" },
        ]);
    }

    /// Drops `percent` % of the frames the bridge forwards (nftables, bridge
    /// family, forward hook: the kernel here has no netem).
    pub fn set_loss(&self, percent: u32) {
        self.nft(&format!(
            "table bridge lossy {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n    numgen random mod 100 < {percent} drop\n  }}\n}}\n"
        ));
    }

    /// A one-way partition: every IPv4 frame host `i` sends is dropped on the
    /// bridge; what it receives still arrives.
    pub fn drop_from(&self, i: usize) {
        self.nft(&format!(
            "table bridge partition {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n    ip saddr 10.77.0.{} drop\n  }}\n}}\n",
            i + 1
        ));
    }

    fn nft(&self, rules: &str) {
        let mut child = self
            .bridge
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft is not installed: `apt-get install nftables` (scripts/test installs it)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), rules.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "nft rejected {rules}");
    }
}

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

/// Runs `pingpong client <args>` to completion.
pub fn client(args: &[String]) -> Output {
    client_with_env(args, &[])
}

/// Runs `pingpong client <args>` with extra environment variables.
pub fn client_with_env(args: &[String], envs: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(bin());
    command.arg("client").args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("run pingpong client")
}

/// Runs `pingpong client URL <extra>` with these certificate, key and CA files.
pub fn client_with_files(url: &str, cert: &Path, key: &Path, ca: &Path, extra: &[&str]) -> Output {
    let mut args = strings(&[url]);
    args.extend(strings(extra));
    for (flag, path) in [("--cert", cert), ("--key", key), ("--ca", ca)] {
        args.push(flag.into());
        args.push(path.display().to_string());
    }
    client(&args)
}

/// For a server started with `--allow-client alice` on the CA of `paths`: the
/// folder's own client ("pingpong-client", right CA, not listed) is denied,
/// a client certificate named alice (written into `dir`) is served.
pub fn assert_allow_list_admits_only_alice(server: &ServerProcess, paths: &CertPaths, dir: &Path) {
    let mut args = strings(&[&server.url(), "-c", "1"]);
    args.extend(tls_args(paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the server rejected our client certificate: the server admits only named clients (--allow-client), and not this one. Fix: ask for this certificate's name"),
        "{}",
        describe(&out)
    );
    server.wait_for_log("not on the allow-list", Duration::from_secs(5));
    let (cert, key) = extra_leaf(
        paths,
        dir,
        "alice",
        LeafRole::Client,
        "alice",
        &[],
        Validity::days(30),
    );
    let out = client_with_files(
        &server.url(),
        &cert,
        &key,
        &paths.ca_cert(),
        &["-c", "2", "-i", "0.01"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// A client with the right CA but no certificate (rustls without client auth:
/// the pingpong CLI never does this, a foreign client might) is refused with
/// the "certificate required" alert. Runs its own runtime: call it from a
/// synchronous test.
pub fn assert_no_client_certificate_is_refused(server: &ServerProcess, paths: &CertPaths) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in pingpong::tls::load::certificates(&paths.ca_cert()).unwrap() {
        roots.add(cert).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(pingpong::tls::config::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime.block_on(async move {
        let connector = pingpong::client::Connector::from_rustls(tls).unwrap();
        match connector.open(&url).await {
            Ok(_) => panic!("a client without a certificate got a session"),
            Err(e) => e,
        }
    });
    assert!(
        error
            .to_string()
            .contains("we sent no client certificate, and the server requires one"),
        "{error}"
    );
}

/// A client pinging `url` every 50 ms until stopped (`-c 0`), with `extra`
/// arguments; returns the process and its stdout lines.
pub fn endless_client(
    url: &str,
    paths: &CertPaths,
    extra: &[&str],
) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut command = Command::new(bin());
    command
        .arg("client")
        .args(strings(&[url, "-c", "0", "-i", "0.05"]))
        .args(strings(extra))
        .args(tls_args(paths, LeafRole::Client))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn pingpong client");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Strings from string slices.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// stdout and stderr of a finished process, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What the library's client says when it cannot open a session to `url`.
pub fn library_client_error(url: &str, material: &pingpong::tls::TlsMaterial) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let connector = pingpong::client::Connector::new(material, None).unwrap();
        let error = match connector.open(url).await {
            Ok(_) => panic!("{url} accepted the session"),
            Err(error) => error.to_string(),
        };
        connector.shutdown().await;
        error
    })
}

/// Runs `pingpong client ARGS`, which must fail with exit 2 and a one-line
/// error containing `needle` (no panic); returns its stderr.
pub fn expect_client_failure(args: &[String], needle: &str) -> String {
    let out = client(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr.contains(needle), "wanted {needle:?} in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The arguments of a client whose certificate comes from `foreign`'s CA,
/// pinging `url` once while trusting `trusted_ca` (the server's CA): the
/// server must refuse it during the handshake.
pub fn foreign_client_args(url: &str, foreign: &CertPaths, trusted_ca: &Path) -> Vec<String> {
    strings(&[
        url,
        "-c",
        "1",
        "--cert",
        &foreign.leaf_cert(LeafRole::Client).display().to_string(),
        "--key",
        &foreign.leaf_key(LeafRole::Client).display().to_string(),
        "--ca",
        &trusted_ca.display().to_string(),
    ])
}
