//! dnsmasq as a test's DNS server: on 127.0.0.1:53 inside a namespace the
//! test made, authoritative for cluster.local and example.test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::Netns;

/// dnsmasq on 127.0.0.1:53 inside a namespace.
pub struct Dnsmasq {
    child: Child,
    conf: PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq in `netns` with its configuration in `dir`, serving
    /// `records` (dnsmasq configuration lines) under cluster.local and
    /// example.test with a TTL of 5 s (as CoreDNS).
    pub fn start(netns: &Netns, dir: &Path, records: &str) -> Self {
        let found = std::process::Command::new("sh")
            .args(["-c", "command -v dnsmasq"])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "dnsmasq is not installed: `apt-get install dnsmasq-base` (scripts/test installs it)"
        );
        let conf = dir.join("dnsmasq.conf");
        std::fs::write(
            &conf,
            format!(
                "port=53\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-daemon\n\
                 log-facility=-\nlocal=/cluster.local/\nlocal=/example.test/\nlocal-ttl=5\n{records}"
            ),
        )
        .unwrap();
        Self::spawn(netns, conf)
    }

    fn spawn(netns: &Netns, conf: PathBuf) -> Self {
        let mut child = netns
            .command("dnsmasq")
            .args(["--pid-file=", "-C"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            let line = lines.next().expect("dnsmasq exited").unwrap();
            assert!(
                !line.contains("FAILED") && !line.contains("failed"),
                "dnsmasq: {line}"
            );
            if line.contains("started, version") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self { child, conf }
    }

    /// dnsmasq does not reload srv-host on SIGHUP: restart it with new records.
    pub fn restart_with(mut self, netns: &Netns, records: &str) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.conf).unwrap();
        let head: String = text.lines().take(9).map(|l| format!("{l}\n")).collect();
        std::fs::write(&self.conf, format!("{head}{records}")).unwrap();
        Self::spawn(netns, self.conf.clone())
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
