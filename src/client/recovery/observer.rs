//! What a recovering run tells its caller.

use super::leg::Leg;
use crate::client::{ClientError, ClientSession, PingEvent};
use crate::discovery::Candidate;

/// What the caller wants to hear about (`Send`, so that a recovering client can
/// run in a spawned task).
pub trait RecoveryObserver: Send {
    /// A session is up (`reconnect` is false for the first one).
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool);
    /// A ping was answered, lost, duplicated...
    fn ping_event(&mut self, event: &PingEvent);
    /// The session was lost; the client will reconnect (or switch to its
    /// standby).
    fn session_lost(&mut self, error: &ClientError);
    /// A candidate could not be used.
    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError);
    /// The session to `suspect` is suspect: its unanswered pings, and every
    /// new one, go to `standby` too until one of them answers.
    fn hedging(&mut self, suspect: &Candidate, standby: &Leg) {
        tracing::info!(suspect = %suspect.instance, standby = %standby.candidate.instance, "session suspect: hedging");
    }
    /// A server joined and drew this run: it moved from `from` to `to`
    /// (make-before-break; [`connected`](Self::connected) follows).
    fn moved(&mut self, from: &Candidate, to: &Leg) {
        tracing::info!(from = %from.instance, to = %to.candidate.instance, "moved to a server that joined");
    }
    /// A warm standby session is up (`--standby 1`), idle until the primary
    /// turns suspect.
    fn standby_ready(&mut self, standby: &Leg) {
        tracing::info!(instance = %standby.candidate.instance, "warm standby session up");
    }
    /// No standby session could be opened to `candidate`.
    fn standby_failed(&mut self, candidate: &Candidate, reason: &str) {
        tracing::info!(instance = %candidate.instance, %reason, "no standby session");
    }
}
