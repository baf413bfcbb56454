//! Unix: file modes (keys 0600, folders 0700), SIGINT and SIGTERM, SIGPIPE.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and its parents) readable by its owner alone (0700).
pub fn create_private_folder(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens `path` for writing, created with mode 0600 when `secret` (a key, a
/// lock), else 0644; `options` says whether it must be new.
pub fn create_file(path: &Path, secret: bool, options: &mut OpenOptions) -> std::io::Result<File> {
    options.mode(if secret { 0o600 } else { 0o644 }).open(path)
}

/// Whether users other than the owner may read or write a file with `meta`.
pub fn readable_by_others(meta: &Metadata) -> bool {
    meta.permissions().mode() & 0o077 != 0
}

/// A future that resolves, with the signal's name, on the first SIGINT or
/// SIGTERM; the handlers are installed before it returns.
pub fn shutdown_requested() -> std::io::Result<impl Future<Output = &'static str> + Send> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

/// Ends the process as the default SIGPIPE action would (the reader of its
/// output went away), so that a shell pipeline sees the usual status.
pub fn exit_on_broken_pipe() -> ! {
    // SAFETY: restoring a signal's default action and raising it have no
    // memory effects; the process ends here.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
}
