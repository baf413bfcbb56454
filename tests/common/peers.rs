//! Third-party mDNS peers inside a test's namespace: avahi-daemon (with its own
//! D-Bus system bus) and python-zeroconf (the interop venv's scripts).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::Netns;

/// Fails the test loudly when `program` (from Debian's `package`) is missing.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap()
        .status
        .success();
    assert!(
        found,
        "{program} is not installed: `apt-get install {package}` (scripts/test installs it)"
    );
}

/// avahi-daemon on a private D-Bus system bus inside the namespace, with its
/// own /run/avahi-daemon (a tmpfs in a mount namespace of its own), so
/// daemons of tests running side by side never share a pid file.
pub struct Avahi {
    dbus: Child,
    daemon: Child,
    bus: String,
    _dir: tempfile::TempDir,
}

impl Avahi {
    /// A D-Bus system bus and avahi-daemon inside `netns`, on its `pp0` link
    /// (see [`Netns::with_lan`]): avahi ignores loopback.
    pub fn start(netns: &Netns) -> Self {
        Self::start_on(netns, "pp0", false)
    }

    /// The same on `interface`; with `wide_area`, avahi also browses unicast
    /// DNS-SD domains through the name servers of the namespace's
    /// /etc/resolv.conf.
    pub fn start_on(netns: &Netns, interface: &str, wide_area: bool) -> Self {
        require("avahi-daemon", "avahi-daemon");
        require("avahi-browse", "avahi-utils");
        require("dbus-daemon", "dbus");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let dbus_conf = dir.path().join("dbus.conf");
        std::fs::write(
            &dbus_conf,
            DBUS_CONF.replace("SOCKET", &socket.display().to_string()),
        )
        .unwrap();
        let avahi_conf = dir.path().join("avahi.conf");
        let conf = AVAHI_CONF
            .replace("INTERFACE", interface)
            .replace("WIDE_AREA", if wide_area { "yes" } else { "no" });
        std::fs::write(&avahi_conf, conf).unwrap();
        let mut dbus = netns
            .command("dbus-daemon")
            .args([
                "--nofork",
                "--nopidfile",
                "--print-address",
                "--config-file",
            ])
            .arg(&dbus_conf)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The bus is ready once it prints its address.
        let mut address = String::new();
        BufReader::new(dbus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon did not start: {address:?}"
        );
        let bus = format!("unix:path={}", socket.display());
        // avahi-daemon keeps its pid file and socket in /run/avahi-daemon:
        // a private tmpfs there lets several run at once.
        std::fs::create_dir_all("/run/avahi-daemon").unwrap();
        let mut daemon = netns
            .command("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /run/avahi-daemon && exec avahi-daemon \"$@\"",
                "avahi-daemon",
                "--no-drop-root",
                "--no-chroot",
                "-f",
            ])
            .arg(&avahi_conf)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = daemon.stderr.take().unwrap();
        let mut lines = BufReader::new(err).lines();
        loop {
            let line = lines.next().expect("avahi-daemon exited").unwrap();
            if line.contains("Server startup complete") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            dbus,
            daemon,
            bus,
            _dir: dir,
        }
    }

    /// `program` (avahi-browse, avahi-publish) in `netns`, talking to this daemon.
    pub fn command(&self, netns: &Netns, program: &str) -> Command {
        let mut command = netns.command(program);
        command.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus);
        command
    }

    /// avahi-browse in `netns` resolving `service_type` in the unicast DNS
    /// `domain` (wide-area DNS-SD) once, in its parsable form: resolved lines
    /// are `=;iface;proto;name;type;domain;host;address;port;txt`.
    pub fn browse_domain(
        &self,
        netns: &Netns,
        domain: &str,
        service_type: &str,
    ) -> std::process::Output {
        self.command(netns, "avahi-browse")
            .args([
                "--domain",
                domain,
                "--resolve",
                "--terminate",
                "--parsable",
                "--no-db-lookup",
                service_type,
            ])
            .output()
            .unwrap()
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

const DBUS_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"#;

const AVAHI_CONF: &str = "[server]
host-name=avahi-peer
use-ipv4=yes
use-ipv6=yes
allow-interfaces=INTERFACE
enable-dbus=yes
[wide-area]
enable-wide-area=WIDE_AREA
[publish]
publish-hinfo=no
publish-workstation=no
";

/// The interop venv's Python, with python-zeroconf.
pub fn python() -> PathBuf {
    let path = std::env::var_os("PINGPONG_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} not found: run scripts/test, which creates the venv with python-zeroconf (tests/interop/requirements.txt)",
        path.display()
    );
    path
}

/// A script of `tests/interop/`.
pub fn interop_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
        .display()
        .to_string()
}
