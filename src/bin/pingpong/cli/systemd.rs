//! The systemd notify protocol for `pingpong server` under a `Type=notify`
//! unit (deploy/systemd/pingpong.service): READY=1 once the server listens and
//! advertises, STOPPING=1 with a status line while it drains, and the watchdog
//! when the unit asks for one. Outside systemd (no `NOTIFY_SOCKET`) every call
//! does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Margin systemd is asked to allow beyond the drain timeout when stopping:
/// after the sessions go, the server sends its mDNS goodbye, withdraws its DNS
/// records (one exchange, bounded by the DNS timeout) and closes the endpoint
/// (at most 1 s).
const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Tells systemd the server is ready (it listens and, when it advertises,
/// its mDNS advertisement is up), with `status` as its status line.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Watches the server's life on behalf of systemd: pings the watchdog when the
/// unit set one (`WatchdogSec=`), and once `shutdown` is cancelled reports
/// STOPPING=1 with a status line and asks for `drain_timeout` (plus a margin)
/// to stop in.
pub(crate) fn watch(shutdown: CancellationToken, drain_timeout: Duration) {
    if let Some(period) = sd_notify::watchdog_enabled() {
        // Half the period, as sd_watchdog_enabled(3) advises: one late tick
        // on a loaded machine is not a restart.
        // It pings through the drain too, until the runtime ends.
        let ping_every = period / 2;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ping_every);
            loop {
                tick.tick().await;
                send(&[NotifyState::Watchdog]);
            }
        });
    }
    tokio::spawn(async move {
        shutdown.cancelled().await;
        let status = format!(
            "draining: sessions are told to move (up to {} s)",
            drain_timeout.as_secs_f64()
        );
        let extend = u32::try_from((drain_timeout + STOP_MARGIN).as_micros()).unwrap_or(u32::MAX);
        send(&[
            NotifyState::Stopping,
            NotifyState::Status(&status),
            NotifyState::ExtendTimeoutUsec(extend),
        ]);
    });
}

fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        warn!(%error, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}
