//! Pinging through failures (see docs/recovery.md). A session that turns
//! suspect (see [`suspicion`](super::suspicion)) gets a standby session to the
//! next-ranked server beside it, which is sent the unanswered pings too: the
//! first pong wins (make-before-break). The client switches to the standby only
//! when the first session stalls or fails; if it answers again, nothing was
//! lost and nothing is counted as a failover. Without a standby, a lost session
//! is replaced — immediately after one that worked, then with back-off — by
//! discovery's next best server (or the same one), which gets
//! `Hello { resume_after }` and every unanswered ping again. Duplicate pongs are
//! dropped.
//!
//! - [`target`]: where sessions come from, and the way back home;
//! - [`leg`]: a session and the candidate it was opened to;
//! - [`observer`]: what the caller hears;
//! - [`policy`]: the settings, what is recoverable, how sessions count;
//! - `reconnect.rs`: the outer loop (connect, ping, reconnect with back-off);
//! - `failover.rs`: make-before-break over a primary and a standby, as
//!   `plan.rs` (its decisions, pure, tested in virtual time) says.

mod failover;
pub mod leg;
pub mod observer;
mod plan;
pub mod policy;
mod reconnect;
pub mod target;

pub use leg::Leg;
pub use observer::RecoveryObserver;
pub use policy::Recovery;
pub use reconnect::ping_with_recovery;
pub use target::Target;
