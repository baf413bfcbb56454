//! Plain HTTP/1.1 against a server's operations endpoint (`--metrics`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{describe, Netns, ServerProcess};

/// GET `path` over plain HTTP/1.1; returns (status, body).
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The value of the first sample of `name` in a Prometheus text body.
pub fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("{name} missing from:\n{body}"))
        .parse()
        .unwrap()
}

/// The operations endpoint of a server started with `--metrics ADDR`: the
/// address its next stdout line announces (`... http://ADDR/metrics`).
pub fn metrics_addr(server: &ServerProcess) -> SocketAddr {
    let line = server
        .stdout_lines
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no metrics address in {line:?}"))
        .parse()
        .unwrap()
}

/// The body of an HTTP GET from inside `netns` (curl is not assumed: Python).
pub fn get_in(netns: &Netns, url: &str) -> String {
    let out = netns
        .command(&std::env::var("PINGPONG_TEST_PYTHON").unwrap_or_else(|_| "python3".into()))
        .args([
            "-c",
            "import sys, urllib.request, urllib.error\ntry:\n    r = urllib.request.urlopen(sys.argv[1])\nexcept urllib.error.HTTPError as e:\n    r = e\nsys.stdout.write(r.read().decode())",
            url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}
