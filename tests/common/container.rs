//! A machine with systemd as its init, for testing what runs under it: this
//! host's own system booted by `systemd-nspawn` on a throwaway overlay (every
//! change, a package installed included, is lost when it ends), inside a
//! network namespace the test made. The machine's own system is never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::Netns;

/// A booted container; powered off and its overlay removed when dropped.
pub struct Container {
    nspawn: Child,
    leader: u32,
    merged: PathBuf,
    layer: PathBuf,
    _dir: tempfile::TempDir,
}

impl Container {
    /// Boots the host's system as `hostname` in `netns`, with `work` bound at
    /// `/srv/work` (read-write), and waits until systemd has started every
    /// unit it starts at boot.
    pub fn boot(netns: &Netns, hostname: &str, work: &Path) -> Self {
        assert!(
            Path::new("/usr/bin/systemd-nspawn").exists() && Path::new("/lib/systemd/systemd").exists(),
            "systemd-nspawn or systemd is not installed: `apt-get install systemd systemd-container` (scripts/test installs them)"
        );
        let dir = tempfile::tempdir().unwrap();
        // The upper layer on a tmpfs of its own: an overlay's layers must not
        // share a file system with the root it covers.
        let layer = dir.path().join("layer");
        let merged = dir.path().join("root");
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::create_dir_all(&merged).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(&layer));
        std::fs::create_dir_all(layer.join("upper")).unwrap();
        std::fs::create_dir_all(layer.join("work")).unwrap();
        run(Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!(
                "lowerdir=/,upperdir={},workdir={}",
                layer.join("upper").display(),
                layer.join("work").display()
            ))
            .arg(&merged));
        // systemd names the machine from /etc/hostname over nspawn's --hostname.
        std::fs::write(merged.join("etc/hostname"), format!("{hostname}\n")).unwrap();
        let nspawn = Command::new("systemd-nspawn")
            .arg("--directory")
            .arg(&merged)
            .args(["--boot", "--register=no", "--keep-unit", "--console=pipe"])
            .arg(format!("--hostname={hostname}"))
            .arg(format!(
                "--network-namespace-path=/run/netns/{}",
                netns.name
            ))
            .arg(format!("--bind={}:/srv/work", work.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-nspawn");
        let leader = wait_for_leader(nspawn.id());
        let container = Self {
            nspawn,
            leader,
            merged,
            layer,
            _dir: dir,
        };
        // systemctl answers once systemd has opened its socket, and then
        // waits for the boot to finish.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = container.sh("systemctl is-system-running --wait");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the container did not boot: {}; failed units: {}",
                super::describe(&out),
                String::from_utf8_lossy(&container.sh("systemctl --failed --no-pager").stdout)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        container
    }

    /// Runs `script` with `sh -c` as root in the container, in `/srv/work`,
    /// with a clean environment.
    pub fn sh(&self, script: &str) -> Output {
        Command::new("nsenter")
            // --root: the container's root, which is its init's even where
            // nspawn could only chroot into it (itself run in a chroot).
            .args([
                "--target",
                &self.leader.to_string(),
                "--all",
                "--root",
                "--wd",
            ])
            .args([
                "env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root",
                "LANG=C.UTF-8",
                "MANPAGER=cat",
                "SYSTEMD_PAGER=",
                "sh",
                "-c",
            ])
            .arg(format!("cd /srv/work && {script}"))
            .output()
            .expect("nsenter")
    }

    /// [`sh`](Self::sh), which must exit 0: its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` in the container: {}",
            super::describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGTERM: nspawn asks the container's systemd to power off.
        unsafe { libc::kill(self.nspawn.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        let _ = Command::new("umount").arg(&self.merged).status();
        let _ = Command::new("umount").arg(&self.layer).status();
    }
}

/// The container's init: nspawn's child once it runs systemd.
fn wait_for_leader(nspawn: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{nspawn}/task/{nspawn}/children"))
            .unwrap_or_default();
        for child in children.split_whitespace() {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if comm.trim() == "systemd" {
                return child.parse().unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "systemd-nspawn started no systemd"
        );
        // Nothing to wait on but the process table.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        super::describe(&out)
    );
}
