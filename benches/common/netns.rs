//! Benchmarks that start mDNS or own port 53 re-run themselves inside a
//! network namespace they create (root needed), so nothing leaves the machine.

use std::process::Command;

const INSIDE: &str = "PINGPONG_BENCH_IN_NETNS";

/// In the outer run: creates a namespace (loopback up, multicast routed on it),
/// runs this benchmark again inside it, deletes it and exits with its status.
/// In the inner run: returns.
pub fn reexec_inside() {
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    let ns = format!("pp-bench-{}", std::process::id());
    let setup = format!(
        "ip netns add {ns} && ip -n {ns} link set lo up && ip -n {ns} link set lo multicast on \\
         && ip -n {ns} route add 224.0.0.0/4 dev lo"
    );
    let ok = Command::new("sh")
        .args(["-c", &setup])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot create a network namespace (this benchmark needs root)"
    );
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(std::env::current_exe().unwrap())
        .env(INSIDE, "1")
        .status()
        .unwrap();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    std::process::exit(status.code().unwrap_or(1));
}
