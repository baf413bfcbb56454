//! Turning SIGINT/SIGTERM (Ctrl-C and console close on Windows) into a
//! cancellation token.

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT or SIGTERM (Ctrl-C, Ctrl-Break or
/// the console closing on Windows).
pub fn on_signals() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let requested = crate::platform::shutdown_requested()?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let signal = requested.await;
        tracing::info!("{signal} received");
        cancel.cancel();
    });
    Ok(token)
}
