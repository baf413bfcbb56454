//! What differs between Unix and Windows, in one place: who may read the
//! files the certificate folder holds, the signals that stop a server, and how
//! a command ends when its output is gone. `unix.rs` is the side tested here
//! (Linux); `windows.rs` builds (`cargo clippy --target x86_64-pc-windows-gnu`
//! in scripts/test). Locking the certificate folder needs no platform code:
//! the standard library's `File::lock` is `flock` on Unix and `LockFileEx` on
//! Windows.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use imp::{
    create_file, create_private_folder, exit_on_broken_pipe, readable_by_others, shutdown_requested,
};
