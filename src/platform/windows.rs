//! Windows: access is decided by ACLs, not modes. The certificate folder
//! defaults to the user's profile (`%APPDATA%`), whose ACL admits the user,
//! SYSTEM and administrators, and files created in it inherit that: keys are
//! readable by their owner (and the machine's administrators) only, as with
//! 0600 on Unix. A server stops on Ctrl-C, Ctrl-Break or the console closing.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::future::Future;
use std::path::Path;

/// Creates `dir` (and its parents), inheriting its parent's ACL.
pub fn create_private_folder(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).create(dir)
}

/// Opens `path` for writing, inheriting the folder's ACL (`secret` changes
/// nothing here: see the module's note); `options` says whether it must be new.
pub fn create_file(path: &Path, secret: bool, options: &mut OpenOptions) -> std::io::Result<File> {
    let _ = secret;
    options.open(path)
}

/// Whether others may read a file: not told by a mode on Windows, so never
/// reported (the folder's ACL decides; see the module's note).
pub fn readable_by_others(meta: &Metadata) -> bool {
    let _ = meta;
    false
}

/// A future that resolves, with the event's name, on the first Ctrl-C,
/// Ctrl-Break or console close; the handlers are installed before it returns.
pub fn shutdown_requested() -> std::io::Result<impl Future<Output = &'static str> + Send> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let mut interrupt = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "Ctrl-C",
            _ = brk.recv() => "Ctrl-Break",
            _ = close.recv() => "console close",
        }
    })
}

/// Ends the process quietly when the reader of its output went away.
pub fn exit_on_broken_pipe() -> ! {
    std::process::exit(1)
}
