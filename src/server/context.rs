//! What every session of a server shares: who the server is, its deadlines,
//! the outboxes, the metrics.

use std::sync::Mutex;
use std::time::Duration;

use super::outbox::{OutboxLimits, Outboxes};
use super::session::ServerInfo;

/// Deadlines of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionTiming {
    /// A new session must say Hello within this.
    pub hello_timeout: Duration,
    /// A draining server gives a session this long to leave.
    pub drain_timeout: Duration,
}

/// What every session of a server shares.
pub struct SessionContext<'a> {
    /// Who the server is.
    pub info: &'a ServerInfo,
    /// Deadlines.
    pub timing: SessionTiming,
    /// Where answered pings are counted, if anywhere.
    pub metrics: Option<&'a super::metrics::Metrics>,
    /// Recent pongs per client.
    pub outboxes: &'a Mutex<Outboxes>,
    /// Their bounds (a copy, so that recording a pong takes no global lock).
    pub outbox_limits: OutboxLimits,
}
