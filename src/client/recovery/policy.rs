//! How a run recovers: its settings, which failures are worth a reconnection,
//! and how a new session counts (a reconnection, a failover).

use std::time::Duration;

use crate::client::{ClientError, PingRun};

/// How a run recovers.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// Without a session for this long, the client gives up; zero turns
    /// recovery off.
    pub give_up_after: Duration,
    /// Idle sessions kept open to the next-best server (0 or 1), so that a
    /// failover costs no handshake.
    pub standby: usize,
    /// Whether a discovered server that joins draws the run with probability
    /// 1/N (see [`rebalance`](crate::client::rebalance)).
    pub rebalance: bool,
}

/// Whether a failure is worth reconnecting for.
pub(crate) fn recoverable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::SessionLost(_)
            | ClientError::Draining { .. }
            | ClientError::Timeout { .. }
            | ClientError::Connection { .. }
            | ClientError::NoneReachable { .. }
            | ClientError::NothingDiscovered { .. }
    )
}

/// Counts a new session: after the first, a reconnection, and a failover when
/// it is another server.
pub(crate) fn count_session(
    run: &mut PingRun,
    last_server: &mut Option<[u8; 16]>,
    server_id: [u8; 16],
) {
    if let Some(last) = *last_server {
        run.reconnects += 1;
        if last != server_id {
            run.failovers += 1;
        }
    }
    *last_server = Some(server_id);
}
