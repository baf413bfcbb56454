//! The ping client.
//!
//! - [`connect`]: [`Connector`] opens a verified mTLS WebTransport session and
//!   completes Hello/Welcome, giving a [`ClientSession`].
//! - [`find`]: choose a discovered server, skip and eject the failing ones.
//! - [`race`]: Happy Eyeballs over every address of every candidate.
//! - [`recovery`]: ping through failures: reconnect, fail over
//!   (make-before-break with a standby session), resend.
//! - [`rebalance`]: when a server joins, move to it with probability 1/N.
//! - [`suspicion`]: when a session is suspect or stalled, from its own RTTs.
//! - [`handshake`]: the Hello/Welcome exchange over any byte stream.
//! - [`run`]: a ping run's state, pure (schedule, matching, timeouts, resend).
//! - [`pinger`]: the ping loop that drives a run over any byte stream.
//! - [`lanes`]: a run's sessions (primary, standby) and what the loop asks of
//!   the caller.
//! - [`report`]: ping(8)-style text and JSON lines.
//! - [`probe`]: connect-and-Hello probes for `discover --probe`.
//! - [`stats`]: RTT statistics and the run summary.
//! - [`error`]: failures phrased as cause and fix.

pub mod connect;
pub mod error;
pub mod find;
pub mod handshake;
mod in_flight;
pub mod lanes;
pub mod pinger;
pub mod probe;
pub mod race;
pub mod rebalance;
pub mod recovery;
pub mod report;
pub mod resolver;
pub mod run;
pub mod stats;
pub mod suspicion;

pub use connect::{ClientSession, Connector};
pub use error::ClientError;
pub use handshake::Resume;
pub use handshake::Welcome;
pub use run::{PingEvent, PingOptions, PingRun};
pub use stats::{PingSummary, RttSummary};
