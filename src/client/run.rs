//! The state of a ping run, pure: what to send when, which pongs match, what
//! timed out, what a reconnection resends, and the figures. Time comes in as
//! arguments; [`pinger`](super::pinger) drives it over a session.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::in_flight::InFlight;
use super::stats::{PingSummary, RttStats};
use super::ClientError;
use crate::proto::{encode_ping_into, ServerMessage, MAX_FRAME_LEN};

/// Bytes of pings allowed in flight at once, whatever `in_flight` says. The loop
/// writes while it is not reading; keeping the unanswered bytes well under QUIC's
/// per-stream flow-control window means neither side can block the other.
const MAX_IN_FLIGHT_BYTES: usize = 256 * 1024;

/// How long a stopped run (Ctrl-C) still waits for pongs already in flight:
/// hundreds of round trips on a LAN, and short enough that Ctrl-C feels instant.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// How many lost seqs are remembered to tell a late pong from a duplicate.
const LOST_MEMORY: usize = 4096;

/// How many hedging episodes are remembered to tell the second session's
/// answer from a duplicate: an episode lasts at least a suspicion deadline, so
/// sixteen cover seconds, far longer than a straggling pong.
const HEDGE_MEMORY: usize = 16;

/// How many resent seqs are remembered to tell the second answer to a resend
/// from a duplicate. A server the client comes back to replays the pongs the
/// lost session missed and then answers the resent pings too, so a resent seq
/// may be answered twice by design. A resend holds at most a window of pings,
/// and the window is at most this many (the smallest ping takes 16 bytes of
/// [`MAX_IN_FLIGHT_BYTES`]); a seq is forgotten once its second answer came.
const RESENT_MEMORY: usize = MAX_IN_FLIGHT_BYTES / 16;

/// How to ping.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Pings to send; `None` pings until stopped.
    pub count: Option<u64>,
    /// Time between two pings; zero sends as fast as `in_flight` allows.
    pub interval: Duration,
    /// Payload bytes per ping.
    pub payload_size: usize,
    /// How long to wait for each pong before counting the ping lost.
    pub timeout: Duration,
    /// Most pings unanswered at once.
    pub in_flight: usize,
    /// What a session that stops answering means: see [`Liveness`].
    pub liveness: Liveness,
}

/// How the ping loop judges a session that stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It does not: unanswered pings are counted lost after `timeout`, and the
    /// session is kept (no recovery).
    Ignore,
    /// From the session's own round trips (see
    /// [`suspicion`](super::suspicion)): suspect, then stalled; a stalled
    /// session is lost and the caller reconnects and resends.
    Adaptive,
    /// A ping unanswered for this long ends the session as lost (no suspicion
    /// stage).
    After(Duration),
}

impl Default for PingOptions {
    fn default() -> Self {
        Self {
            count: Some(10),
            interval: Duration::from_secs(1),
            payload_size: 56,
            timeout: Duration::from_secs(2),
            in_flight: 64,
            liveness: Liveness::Ignore,
        }
    }
}

impl PingOptions {
    /// The largest payload that fits in one frame.
    pub const MAX_PAYLOAD: usize = MAX_FRAME_LEN - 16;

    fn effective_in_flight(&self) -> usize {
        let per_ping = self.payload_size + 16;
        self.in_flight
            .clamp(1, (MAX_IN_FLIGHT_BYTES / per_ping).max(1))
    }
}

/// Something that happened during a run, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum PingEvent {
    /// Ping `seq` was sent (the first time; resends on a new session are not
    /// reported again).
    Sent {
        /// The seq.
        seq: u64,
    },
    /// A pong answered ping `seq`.
    Pong {
        /// The seq.
        seq: u64,
        /// Round-trip time.
        rtt: Duration,
        /// Payload bytes echoed.
        bytes: usize,
    },
    /// Ping `seq` got no pong in time.
    Lost {
        /// The seq.
        seq: u64,
    },
    /// A second pong for an answered ping (dropped).
    Duplicate {
        /// The seq.
        seq: u64,
    },
    /// A pong for a ping already counted lost.
    Late {
        /// The seq.
        seq: u64,
    },
}

/// Bookkeeping of one run, across as many sessions as it takes: what was sent,
/// what is awaited, what came back. Pure: the driver passes in the clock and
/// the messages.
#[derive(Debug)]
pub struct PingRun {
    pub(crate) options: PingOptions,
    window: usize,
    payload: Vec<u8>,
    /// Unanswered pings by seq, with their send time. Seqs are sent in order, so
    /// the first entry is always the oldest.
    pub(crate) outstanding: InFlight,
    lost_seqs: VecDeque<u64>,
    /// Seq ranges sent on two sessions at once: a second pong for one of them
    /// is the other session's answer, not a duplicate.
    hedged_ranges: VecDeque<(u64, u64)>,
    /// Seqs sent again on a new session and answered once so far: the server
    /// may answer them a second time (its replay of what the lost session
    /// missed, then the resend).
    resent: BTreeSet<u64>,
    hedged: u64,
    last_pong_at: Option<Instant>,
    longest_outage: Duration,
    rtts: RttStats,
    sent: u64,
    lost: u64,
    duplicates: u64,
    late: u64,
    next_send: Instant,
    pub(crate) stop_deadline: Option<Instant>,
    started: Instant,
    client_id: [u8; 16],
    /// Sessions re-established after a loss.
    pub reconnects: u64,
    /// Reconnections that landed on a different server.
    pub failovers: u64,
}

impl PingRun {
    /// A run that has not sent anything yet.
    pub fn new(options: &PingOptions) -> Self {
        let now = Instant::now();
        Self {
            options: options.clone(),
            window: options.effective_in_flight(),
            payload: vec![0x5a; options.payload_size.min(PingOptions::MAX_PAYLOAD)],
            outstanding: InFlight::default(),
            lost_seqs: VecDeque::new(),
            hedged_ranges: VecDeque::new(),
            resent: BTreeSet::new(),
            hedged: 0,
            last_pong_at: None,
            longest_outage: Duration::ZERO,
            rtts: RttStats::default(),
            sent: 0,
            lost: 0,
            duplicates: 0,
            late: 0,
            next_send: now,
            stop_deadline: None,
            started: now,
            client_id: rand::random(),
            reconnects: 0,
            failovers: 0,
        }
    }

    /// Every seq up to this one has been answered or given up on: what
    /// `Hello.resume_after` tells a server on reconnection.
    pub fn resume_after(&self) -> u64 {
        self.outstanding
            .oldest()
            .map_or(self.sent, |(seq, _)| seq - 1)
    }

    /// This run's identity and progress, for the `Hello` of every session it
    /// uses. The client id is random per run: a server keeps pongs per client
    /// id, and seqs start again at 1 in a new run.
    pub fn resume(&self) -> super::handshake::Resume {
        super::handshake::Resume {
            client_id: self.client_id,
            after: self.resume_after(),
        }
    }

    /// Pings sent and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.outstanding.len()
    }

    /// Whether every ping was sent and answered (or given up on), or the run was
    /// stopped and its grace period is over.
    pub fn is_finished(&self) -> bool {
        self.finished()
    }

    /// Appends every unanswered ping to `out` again (on a new session), counting
    /// their time from now; returns their seqs.
    pub fn resend(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<Vec<u64>, ClientError> {
        let seqs = self.outstanding.restart_all(now);
        for &seq in &seqs {
            self.encode_ping(seq, out)?;
            self.resent.insert(seq);
            if self.resent.len() > RESENT_MEMORY {
                self.resent.pop_first();
            }
        }
        Ok(seqs)
    }

    /// Starts hedging: appends every unanswered ping to `out` for a second
    /// session (their clocks keep running: the application is still waiting);
    /// the pings [`fill`](Self::fill) adds while hedging count as hedged too.
    /// Returns the seqs appended.
    pub(crate) fn hedge(&mut self, out: &mut Vec<u8>) -> Result<Vec<u64>, ClientError> {
        let seqs = self.outstanding.seqs();
        for &seq in &seqs {
            self.encode_ping(seq, out)?;
        }
        self.hedged += seqs.len() as u64;
        let first = seqs.first().copied().unwrap_or(self.sent + 1);
        if self.hedged_ranges.len() == HEDGE_MEMORY {
            self.hedged_ranges.pop_front();
        }
        self.hedged_ranges.push_back((first, self.sent));
        Ok(seqs)
    }

    /// Pings sent so far (the last seq).
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    fn was_hedged(&self, seq: u64) -> bool {
        self.hedged_ranges
            .iter()
            .any(|&(first, last)| (first..=last).contains(&seq))
    }

    /// Appends ping `seq` to `out`, lending it the shared payload buffer.
    fn encode_ping(&mut self, seq: u64, out: &mut Vec<u8>) -> Result<(), ClientError> {
        encode_ping_into(seq, &self.payload, out).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Stops sending (Ctrl-C); pongs in flight get a short grace period.
    pub fn request_stop(&mut self) {
        self.stop(Instant::now());
    }

    /// Gives up on every unanswered ping (the run ends without a session).
    pub fn abandon(&mut self, emit: &mut dyn FnMut(&PingEvent)) {
        for seq in self.outstanding.drain() {
            self.mark_lost(seq, emit);
        }
        self.stop_deadline.get_or_insert_with(Instant::now);
    }

    pub(crate) fn stop(&mut self, now: Instant) {
        if self.stop_deadline.is_none() {
            self.stop_deadline = Some(now + STOP_GRACE.min(self.options.timeout));
        }
    }

    fn more_to_send(&self) -> bool {
        self.stop_deadline.is_none() && self.options.count.is_none_or(|c| self.sent < c)
    }

    pub(crate) fn finished(&self) -> bool {
        !self.more_to_send() && self.outstanding.is_empty()
    }

    fn mark_lost(&mut self, seq: u64, emit: &mut dyn FnMut(&PingEvent)) {
        self.lost += 1;
        if self.lost_seqs.len() == LOST_MEMORY {
            self.lost_seqs.pop_front();
        }
        self.lost_seqs.push_back(seq);
        emit(&PingEvent::Lost { seq });
    }

    /// Counts as lost every ping past its deadline (or everything, once a
    /// stopped run's grace period is over).
    pub(crate) fn expire(&mut self, now: Instant, emit: &mut dyn FnMut(&PingEvent)) {
        let give_up = self.stop_deadline.is_some_and(|d| d <= now);
        while let Some((seq, at)) = self.outstanding.oldest() {
            if at + self.options.timeout > now && !give_up {
                break;
            }
            self.outstanding.remove(seq);
            self.mark_lost(seq, emit);
        }
    }

    /// Appends every ping that is due to `out`; `hedging` when they go to a
    /// second session too.
    pub(crate) fn fill(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        hedging: bool,
    ) -> Result<(), ClientError> {
        while self.more_to_send() && now >= self.next_send && self.outstanding.len() < self.window {
            let seq = self.sent + 1;
            self.encode_ping(seq, out)?;
            self.outstanding.insert(seq, now);
            self.sent += 1;
            if hedging {
                self.hedged += 1;
                if let Some(range) = self.hedged_ranges.back_mut() {
                    range.1 = seq;
                }
            }
            self.next_send = if self.options.interval.is_zero() {
                now
            } else {
                // Keep the schedule, but do not burst to catch up after a stall.
                (self.next_send + self.options.interval).max(now)
            };
        }
        Ok(())
    }

    /// When the driver must look again if nothing arrives.
    pub(crate) fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = self
            .outstanding
            .oldest()
            .map(|(_, at)| at + self.options.timeout);
        if self.more_to_send() && self.outstanding.len() < self.window {
            wake = Some(wake.map_or(self.next_send, |w| w.min(self.next_send)));
        }
        if let Some(deadline) = self.stop_deadline {
            wake = Some(wake.map_or(deadline, |w| w.min(deadline)));
        }
        wake.unwrap_or_else(|| now + Duration::from_secs(3600))
    }

    /// Handles a message that arrived at `received_at`; returns the seq of a
    /// pong (whether it was the first answer or not), for the session's clock.
    pub(crate) fn on_message(
        &mut self,
        message: ServerMessage,
        received_at: Instant,
        emit: &mut dyn FnMut(&PingEvent),
    ) -> Result<Option<u64>, ClientError> {
        match message {
            ServerMessage::Pong { seq, payload } => self.on_pong(seq, &payload, received_at, emit),
            ServerMessage::Drain { reason, .. } => Err(ClientError::Draining { reason }),
            ServerMessage::Error { code, message } => Err(ClientError::Refused { code, message }),
            other => Err(ClientError::Protocol(format!(
                "unexpected {other:?} during pings"
            ))),
        }
    }

    /// Handles the pong for `seq` carrying `payload`, read in place; returns
    /// its seq once it is accounted for.
    pub(crate) fn on_pong(
        &mut self,
        seq: u64,
        payload: &[u8],
        received_at: Instant,
        emit: &mut dyn FnMut(&PingEvent),
    ) -> Result<Option<u64>, ClientError> {
        // Every ping carries the run's payload: a pong must bring it back.
        if payload[..] != self.payload[..] {
            return Err(ClientError::Protocol(format!(
                "the pong for seq {seq} carries {} bytes that are not its ping's {}: the server, or something on the path, changed them",
                payload.len(),
                self.payload.len()
            )));
        }
        let waiting_since = self.outstanding.oldest().map(|(_, at)| at);
        if let Some(at) = self.outstanding.remove(seq) {
            let rtt = received_at.saturating_duration_since(at);
            self.rtts.record(rtt);
            // How long the application had been waiting for any pong.
            let since = match (waiting_since, self.last_pong_at) {
                (Some(w), Some(p)) => w.max(p),
                (w, p) => w.or(p).unwrap_or(at),
            };
            self.longest_outage = self
                .longest_outage
                .max(received_at.saturating_duration_since(since));
            self.last_pong_at = Some(received_at);
            emit(&PingEvent::Pong {
                seq,
                rtt,
                bytes: payload.len(),
            });
        } else if let Some(pos) = self.lost_seqs.iter().position(|&s| s == seq) {
            self.lost_seqs.remove(pos);
            self.late += 1;
            emit(&PingEvent::Late { seq });
        } else if self.was_hedged(seq) || self.resent.remove(&seq) {
            // The other session's answer to a hedged ping, or the
            // second answer to a resent one: expected, nothing to report.
        } else if (1..=self.sent).contains(&seq) {
            self.duplicates += 1;
            emit(&PingEvent::Duplicate { seq });
        } else {
            return Err(ClientError::Protocol(format!(
                "pong for seq {seq}, which was never sent"
            )));
        }
        Ok(Some(seq))
    }

    /// The figures so far (unanswered pings are not counted lost here: see
    /// [`abandon`](Self::abandon)).
    pub fn summary(&self) -> PingSummary {
        PingSummary {
            transmitted: self.sent,
            received: self.rtts.len() as u64,
            lost: self.lost,
            duplicates: self.duplicates,
            late: self.late,
            reconnects: self.reconnects,
            failovers: self.failovers,
            hedged: self.hedged,
            longest_outage_ms: self.longest_outage.as_secs_f64() * 1000.0,
            rtt_ms: self.rtts.summary(),
            elapsed_ms: self.started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pong_must_carry_its_pings_payload() {
        let mut run = PingRun::new(&PingOptions {
            count: Some(2),
            ..PingOptions::default()
        });
        let now = Instant::now();
        let mut out = Vec::new();
        run.fill(now, &mut out, false).unwrap();
        let good = ServerMessage::Pong {
            seq: 1,
            payload: vec![0x5a; 56],
        };
        assert_eq!(run.on_message(good, now, &mut |_| {}).unwrap(), Some(1));
        let changed = ServerMessage::Pong {
            seq: 1,
            payload: vec![0x5b; 56],
        };
        let error = run.on_message(changed, now, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&error, ClientError::Protocol(text) if text.contains("not its ping's 56")),
            "{error}"
        );
    }

    #[test]
    fn a_resent_pings_second_answer_is_not_a_duplicate() {
        let mut run = PingRun::new(&PingOptions {
            count: Some(3),
            interval: Duration::ZERO,
            ..PingOptions::default()
        });
        let now = Instant::now();
        let mut out = Vec::new();
        run.fill(now, &mut out, false).unwrap();
        let pong = |seq| ServerMessage::Pong {
            seq,
            payload: vec![0x5a; 56],
        };
        let mut events = Vec::new();
        run.on_message(pong(1), now, &mut |e| events.push(e.clone()))
            .unwrap();
        // The session is lost with 2 and 3 unanswered; on the new one they go
        // again, and the server (the same one) replays its answers to them
        // and then answers the resends.
        assert_eq!(run.resend(now, &mut out).unwrap(), vec![2, 3]);
        for seq in [2, 3, 2, 3] {
            run.on_message(pong(seq), now, &mut |e| events.push(e.clone()))
                .unwrap();
        }
        // Beyond those: a second answer to a ping sent once, and a third to a
        // resent one, are duplicates.
        for seq in [1, 2] {
            run.on_message(pong(seq), now, &mut |e| events.push(e.clone()))
                .unwrap();
        }
        let summary = run.summary();
        assert_eq!((summary.received, summary.duplicates), (3, 2));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PingEvent::Duplicate { .. }))
                .collect::<Vec<_>>(),
            vec![
                &PingEvent::Duplicate { seq: 1 },
                &PingEvent::Duplicate { seq: 2 }
            ]
        );
    }

    #[test]
    fn big_payloads_limit_the_window() {
        let opts = PingOptions {
            payload_size: 60_000,
            in_flight: 64,
            ..PingOptions::default()
        };
        assert_eq!(opts.effective_in_flight(), 4);
    }
}
