//! Helpers for integration tests, by concern:
//! - [`pki`]: certificate folders;
//! - [`netns`] and [`lan`]: network namespaces and a LAN of them;
//! - [`server_process`]: real `pingpong server` processes;
//! - [`clients`]: `pingpong client` and `discover` runs;
//! - [`scenarios`]: checks several binaries run against a server;
//! - the rest: DNS servers, HTTP, labs, peers and the README's lines.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Output;

pub mod cluster;
pub mod container;
pub mod dnsmasq;
pub mod http;
pub mod lan_lab;
pub mod named;
pub mod peers;
pub mod readme;
pub mod readme_blocks;
pub mod routed;

mod clients;
mod json_client;
mod lan;
mod netns;
mod pki;
mod scenarios;
mod server_process;

#[allow(unused_imports)] // each test binary uses a different subset
pub use clients::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use json_client::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use lan::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use netns::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use pki::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use scenarios::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use server_process::*;

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
