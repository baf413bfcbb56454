//! When a session is suspect, and when it is dead: pure, per session, from
//! that session's own round trips (RFC 6298, the way QUIC derives its probe
//! timeout). Time comes in as arguments; the [`pinger`](super::pinger) drives
//! it, [`recovery`](super::recovery) acts on its verdicts.
//!
//! - **Suspect**: a ping this session was sent has waited longer than
//!   SRTT + 4·RTTVAR (clamped to [`MIN_SUSPECT`]..[`MAX_SUSPECT`]). The client
//!   then asks a second session too (make-before-break); nothing is closed.
//! - **Stalled**: it has waited [`STALL_FACTOR`] times that (clamped to
//!   [`MIN_STALL`]..[`IDLE_TIMEOUT`]). Only then does the client switch to the
//!   second session, or reconnect when it has none.
//!
//! A session that answers again, even late, is neither.

use std::time::Duration;

use tokio::time::Instant;

use super::in_flight::InFlight;
use crate::transport::IDLE_TIMEOUT;

/// The shortest suspicion deadline. QUIC resends a lost packet after about a
/// probe timeout: its 25 ms maximum ACK delay plus a few round trips, about
/// 30 ms on a LAN. A deadline of three such losses in a row keeps a live
/// session under 10 % random loss from looking suspect more than about once
/// in a thousand pings, and still notices a dead server in a tenth of a second.
pub const MIN_SUSPECT: Duration = Duration::from_millis(100);

/// The longest suspicion deadline: half the QUIC idle timeout, so that a
/// session on a slow path is suspected before QUIC gives up on it.
pub const MAX_SUSPECT: Duration = Duration::from_secs(1);

/// Before the first round trip (none measured, not even the handshake's):
/// QUIC's own first probe timeout with its initial RTT of 333 ms is about a
/// second; half that, as the client always used.
pub const INITIAL_SUSPECT: Duration = Duration::from_millis(500);

/// A stall is this many suspicion deadlines without an answer. A false
/// suspicion costs a hedged ping; a false switch costs a failover, so the
/// switch waits for much stronger evidence: at 10 % random loss a live session
/// answers within four deadlines with a probability of 1 − 10⁻⁴ or better.
pub const STALL_FACTOR: u32 = 4;

/// The shortest stall: four times [`MIN_SUSPECT`], so that a LAN session is
/// declared dead in under half a second (the client's fixed timer used to
/// take that long just to suspect it).
pub const MIN_STALL: Duration = Duration::from_millis(400);

/// The clock granularity of RFC 6298 (G): the variance term is never below it.
const GRANULARITY: Duration = Duration::from_millis(1);

/// RFC 6298's smoothed round-trip time and its variation.
#[derive(Debug, Clone, Default)]
pub struct RttEstimator {
    smoothed: Option<Duration>,
    variation: Duration,
}

impl RttEstimator {
    /// Takes one round trip (RFC 6298 §2.2–2.3: α = 1/8, β = 1/4).
    pub fn sample(&mut self, rtt: Duration) {
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.variation = rtt / 2;
            }
            Some(srtt) => {
                let error = srtt.abs_diff(rtt);
                self.variation = (self.variation * 3 + error) / 4;
                self.smoothed = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The smoothed round-trip time, once one was measured.
    pub fn smoothed(&self) -> Option<Duration> {
        self.smoothed
    }

    /// SRTT + max(G, 4·RTTVAR), clamped to [`MIN_SUSPECT`]..[`MAX_SUSPECT`];
    /// [`INITIAL_SUSPECT`] before any sample.
    pub fn suspect_after(&self) -> Duration {
        match self.smoothed {
            None => INITIAL_SUSPECT,
            Some(srtt) => {
                (srtt + (self.variation * 4).max(GRANULARITY)).clamp(MIN_SUSPECT, MAX_SUSPECT)
            }
        }
    }

    /// [`STALL_FACTOR`] suspicion deadlines, clamped to
    /// [`MIN_STALL`]..[`IDLE_TIMEOUT`].
    pub fn stall_after(&self) -> Duration {
        (self.suspect_after() * STALL_FACTOR).clamp(MIN_STALL, IDLE_TIMEOUT)
    }
}

/// How a session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Nothing overdue.
    Fine,
    /// A ping is past the suspicion deadline.
    Suspect,
    /// A ping is past the stall deadline.
    Stalled,
}

/// One session's view of the pings it carries: when each was sent on it, which
/// it answered, and its round-trip estimate.
#[derive(Debug, Default)]
pub struct SessionClock {
    sent: InFlight,
    rtt: RttEstimator,
}

impl SessionClock {
    /// A session whose handshake took `handshake_rtt` (QUIC's first RTT
    /// sample), if known.
    pub fn new(handshake_rtt: Option<Duration>) -> Self {
        let mut rtt = RttEstimator::default();
        if let Some(first) = handshake_rtt {
            rtt.sample(first);
        }
        Self {
            sent: InFlight::default(),
            rtt,
        }
    }

    /// Ping `seq` was written to this session at `now`. Seqs increase; a resend
    /// of older pings on a new session may skip some.
    pub fn sent(&mut self, seq: u64, now: Instant) {
        self.sent.insert_after_gap(seq, now);
    }

    /// This session answered `seq` at `now` (first or not): one RTT sample
    /// when the ping was sent on it.
    pub fn answered(&mut self, seq: u64, now: Instant) {
        if let Some(at) = self.sent.remove(seq) {
            self.rtt.sample(now.saturating_duration_since(at));
        }
    }

    /// Pings this session was sent and has not answered.
    pub fn unanswered(&self) -> usize {
        self.sent.len()
    }

    /// The round-trip estimate.
    pub fn estimate(&self) -> &RttEstimator {
        &self.rtt
    }

    /// How the session is doing at `now`.
    pub fn health(&self, now: Instant) -> Health {
        match self.sent.oldest() {
            Some((_, at)) => {
                let waited = now.saturating_duration_since(at);
                if waited > self.rtt.stall_after() {
                    Health::Stalled
                } else if waited > self.rtt.suspect_after() {
                    Health::Suspect
                } else {
                    Health::Fine
                }
            }
            None => Health::Fine,
        }
    }

    /// When [`health`](Self::health) changes next if nothing is answered.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let (_, at) = self.sent.oldest()?;
        let tick = Duration::from_millis(1);
        [self.rtt.suspect_after(), self.rtt.stall_after()]
            .into_iter()
            .map(|after| at + after + tick)
            .find(|when| *when > now)
    }

    /// The oldest unanswered ping's send time.
    pub fn waiting_since(&self) -> Option<Instant> {
        self.sent.oldest().map(|(_, at)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_sample_sets_srtt_and_half_of_it_as_variation() {
        let mut e = RttEstimator::default();
        assert_eq!(e.suspect_after(), INITIAL_SUSPECT);
        e.sample(200 * MS);
        // 200 + 4 × 100
        assert_eq!(e.suspect_after(), MAX_SUSPECT.min(600 * MS));
        assert_eq!(e.smoothed(), Some(200 * MS));
    }

    #[test]
    fn steady_samples_shrink_the_variation_as_rfc_6298_says() {
        let mut e = RttEstimator::default();
        e.sample(80 * MS);
        e.sample(80 * MS);
        // RTTVAR = 3/4 × 40 + 1/4 × 0 = 30; SRTT stays 80.
        assert_eq!(e.smoothed(), Some(80 * MS));
        assert_eq!(e.suspect_after(), 200 * MS);
        for _ in 0..100 {
            e.sample(80 * MS);
        }
        // The variation decays towards zero: SRTT + G, clamped up.
        assert_eq!(e.suspect_after(), MIN_SUSPECT);
    }

    #[test]
    fn a_jumpy_path_gets_a_longer_deadline_and_the_bounds_hold() {
        let mut e = RttEstimator::default();
        for i in 0..50 {
            e.sample(if i % 2 == 0 { 10 * MS } else { 150 * MS });
        }
        let jumpy = e.suspect_after();
        assert!(jumpy > 200 * MS && jumpy <= MAX_SUSPECT, "{jumpy:?}");
        let mut slow = RttEstimator::default();
        slow.sample(Duration::from_secs(5));
        assert_eq!(slow.suspect_after(), MAX_SUSPECT);
        assert_eq!(slow.stall_after(), IDLE_TIMEOUT);
        let mut lan = RttEstimator::default();
        lan.sample(Duration::from_micros(200));
        assert_eq!(lan.suspect_after(), MIN_SUSPECT);
        assert_eq!(lan.stall_after(), MIN_STALL);
    }

    #[test]
    fn a_session_turns_suspect_then_stalled_and_an_answer_clears_it() {
        let t = Instant::now();
        let mut clock = SessionClock::new(Some(MS));
        clock.sent(1, t);
        clock.sent(2, t + 10 * MS);
        assert_eq!(clock.health(t + 50 * MS), Health::Fine);
        assert_eq!(clock.next_change(t + 50 * MS), Some(t + 101 * MS));
        assert_eq!(clock.health(t + 101 * MS), Health::Suspect);
        assert_eq!(clock.next_change(t + 101 * MS), Some(t + 401 * MS));
        assert_eq!(clock.health(t + 401 * MS), Health::Stalled);
        assert_eq!(clock.next_change(t + 401 * MS), None);
        // A late answer to ping 1: ping 2 is now the oldest, 391 ms old; the
        // sample (401 ms) also lengthened both deadlines.
        clock.answered(1, t + 401 * MS);
        assert_ne!(clock.health(t + 401 * MS), Health::Stalled);
        clock.answered(2, t + 402 * MS);
        assert_eq!(clock.health(t + 402 * MS), Health::Fine);
        assert_eq!(clock.unanswered(), 0);
        assert_eq!(clock.next_change(t + 402 * MS), None);
    }

    #[test]
    fn a_resend_may_skip_seqs_answered_elsewhere() {
        let t = Instant::now();
        let mut clock = SessionClock::new(None);
        clock.sent(3, t);
        clock.sent(7, t);
        clock.sent(8, t + MS);
        assert_eq!(clock.unanswered(), 3);
        clock.answered(3, t + 2 * MS);
        assert_eq!(clock.waiting_since(), Some(t));
        clock.answered(5, t + 2 * MS); // never sent here: ignored
        clock.answered(7, t + 2 * MS);
        assert_eq!(clock.waiting_since(), Some(t + MS));
        assert_eq!(clock.unanswered(), 1);
    }
}
