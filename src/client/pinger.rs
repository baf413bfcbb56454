//! The ping loop over an established control stream: sends pings on schedule,
//! matches pongs, times out the unanswered, and counts duplicates.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::stats::{PingSummary, RttStats};
use super::ClientError;
use crate::framed::{write_message, FramedReader};
use crate::proto::{ClientMessage, ServerMessage, MAX_FRAME_LEN};

/// Bytes of pings allowed in flight at once, whatever `in_flight` says. The loop
/// writes while it is not reading; keeping the unanswered bytes well under QUIC's
/// per-stream flow-control window means neither side can block the other.
const MAX_IN_FLIGHT_BYTES: usize = 256 * 1024;

/// How long a stopped run (Ctrl-C) still waits for pongs already in flight.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// How many lost seqs are remembered to tell a late pong from a duplicate.
const LOST_MEMORY: usize = 4096;

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
}

impl Default for PingOptions {
    fn default() -> Self {
        Self {
            count: Some(10),
            interval: Duration::from_secs(1),
            payload_size: 56,
            timeout: Duration::from_secs(2),
            in_flight: 64,
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

/// Runs pings until `count` is reached or `stop` is cancelled.
///
/// Events are reported through `on_event` as they happen. On a session failure
/// the summary so far is returned along with the error.
pub async fn run_pings<R, W>(
    reader: &mut FramedReader<R>,
    writer: &mut W,
    options: &PingOptions,
    stop: &CancellationToken,
    mut on_event: impl FnMut(&PingEvent),
) -> (PingSummary, Option<ClientError>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let started = Instant::now();
    let in_flight_max = options.effective_in_flight();
    let payload = vec![0x5a; options.payload_size.min(PingOptions::MAX_PAYLOAD)];
    let mut outstanding: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut lost_seqs: VecDeque<u64> = VecDeque::new();
    let mut rtts = RttStats::default();
    let (mut sent, mut lost, mut duplicates, mut late) = (0u64, 0u64, 0u64, 0u64);
    let mut next_send = Instant::now();
    let mut stop_deadline: Option<Instant> = None;
    let mut error = None;

    let emit = |event: PingEvent, on_event: &mut dyn FnMut(&PingEvent)| on_event(&event);

    loop {
        let now = Instant::now();
        if stop_deadline.is_none() && stop.is_cancelled() {
            stop_deadline = Some(now + STOP_GRACE.min(options.timeout));
        }
        let more_to_send = stop_deadline.is_none() && options.count.is_none_or(|c| sent < c);

        // Time out pings past their deadline (seqs are sent in order, so the
        // first entries are the oldest).
        let cutoff = stop_deadline.filter(|d| *d <= now);
        while let Some((&seq, &at)) = outstanding.first_key_value() {
            if at + options.timeout > now && cutoff.is_none() {
                break;
            }
            outstanding.remove(&seq);
            lost += 1;
            if lost_seqs.len() == LOST_MEMORY {
                lost_seqs.pop_front();
            }
            lost_seqs.push_back(seq);
            emit(PingEvent::Lost { seq }, &mut on_event);
        }

        if !more_to_send && outstanding.is_empty() {
            break;
        }

        // Send when due.
        if more_to_send && now >= next_send && outstanding.len() < in_flight_max {
            let seq = sent + 1;
            let ping = ClientMessage::Ping {
                seq,
                payload: payload.clone(),
            };
            if let Err(e) = write_message(writer, &ping).await {
                error = Some(e.into());
                break;
            }
            outstanding.insert(seq, Instant::now());
            sent += 1;
            next_send = if options.interval.is_zero() {
                now
            } else {
                // Keep the schedule, but do not burst to catch up after a stall.
                (next_send + options.interval).max(now)
            };
            continue;
        }

        // Wait for a pong, the next send, the next timeout, or a stop.
        let mut wake = outstanding
            .first_key_value()
            .map(|(_, &at)| at + options.timeout);
        if more_to_send && outstanding.len() < in_flight_max {
            wake = Some(wake.map_or(next_send, |w| w.min(next_send)));
        }
        if let Some(deadline) = stop_deadline {
            wake = Some(wake.map_or(deadline, |w| w.min(deadline)));
        }
        let wake = wake.unwrap_or_else(|| now + Duration::from_secs(3600));

        tokio::select! {
            _ = stop.cancelled(), if stop_deadline.is_none() => {}
            _ = tokio::time::sleep_until(wake) => {}
            read = reader.next::<ServerMessage>() => match read {
                Ok(Some(ServerMessage::Pong { seq, payload })) => {
                    if let Some(at) = outstanding.remove(&seq) {
                        let rtt = at.elapsed();
                        rtts.record(rtt);
                        emit(PingEvent::Pong { seq, rtt, bytes: payload.len() }, &mut on_event);
                    } else if let Some(pos) = lost_seqs.iter().position(|&s| s == seq) {
                        lost_seqs.remove(pos);
                        late += 1;
                        emit(PingEvent::Late { seq }, &mut on_event);
                    } else if seq >= 1 && seq <= sent {
                        duplicates += 1;
                        emit(PingEvent::Duplicate { seq }, &mut on_event);
                    } else {
                        error = Some(ClientError::Protocol(format!("pong for seq {seq}, which was never sent")));
                        break;
                    }
                }
                Ok(Some(ServerMessage::Drain { reason, .. })) => {
                    error = Some(ClientError::SessionLost(format!("the server is draining: {reason}")));
                    break;
                }
                Ok(Some(ServerMessage::Error { code, message })) => {
                    error = Some(ClientError::Refused { code, message });
                    break;
                }
                Ok(Some(other)) => {
                    error = Some(ClientError::Protocol(format!("unexpected {other:?} during pings")));
                    break;
                }
                Ok(None) => {
                    error = Some(ClientError::SessionLost("the server closed the stream".into()));
                    break;
                }
                Err(e) => {
                    error = Some(e.into());
                    break;
                }
            }
        }
    }

    // Whatever is still outstanding after a failure is lost.
    for seq in outstanding.into_keys() {
        lost += 1;
        emit(PingEvent::Lost { seq }, &mut on_event);
    }
    let summary = PingSummary {
        transmitted: sent,
        received: rtts.len() as u64,
        lost,
        duplicates,
        late,
        rtt_ms: rtts.summary(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    (summary, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::encode_frame;
    use tokio::io::AsyncWriteExt;

    /// A scripted server: reads pings and answers with what `respond` returns.
    async fn run_against(
        options: PingOptions,
        respond: impl Fn(u64) -> Vec<u64> + Send + 'static,
        stop: CancellationToken,
    ) -> (PingSummary, Option<ClientError>, Vec<PingEvent>) {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (sr, mut sw) = tokio::io::split(server);
        let (cr, mut cw) = tokio::io::split(client);
        let server = tokio::spawn(async move {
            let mut reader = FramedReader::new(sr);
            while let Ok(Some(ClientMessage::Ping { seq, payload })) =
                reader.next::<ClientMessage>().await
            {
                for answer in respond(seq) {
                    let pong = ServerMessage::Pong {
                        seq: answer,
                        payload: payload.clone(),
                    };
                    if sw.write_all(&encode_frame(&pong).unwrap()).await.is_err() {
                        return;
                    }
                }
            }
        });
        let mut reader = FramedReader::new(cr);
        let mut events = Vec::new();
        let (summary, error) = run_pings(&mut reader, &mut cw, &options, &stop, |e| {
            events.push(e.clone())
        })
        .await;
        drop(cw);
        server.abort();
        (summary, error, events)
    }

    fn fast(count: u64) -> PingOptions {
        PingOptions {
            count: Some(count),
            interval: Duration::ZERO,
            timeout: Duration::from_millis(300),
            ..PingOptions::default()
        }
    }

    #[tokio::test]
    async fn every_ping_answered() {
        let (s, err, events) =
            run_against(fast(500), |seq| vec![seq], CancellationToken::new()).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            (s.transmitted, s.received, s.lost, s.duplicates),
            (500, 500, 0, 0)
        );
        assert_eq!(events.len(), 500);
        assert!(s.rtt_ms.is_some());
    }

    #[tokio::test]
    async fn duplicates_are_counted_and_dropped() {
        // Each answer repeats the previous pong first, so every duplicate arrives
        // before the run ends.
        let repeat_previous = |seq: u64| {
            if seq > 1 {
                vec![seq - 1, seq]
            } else {
                vec![seq]
            }
        };
        let (s, _, events) = run_against(fast(20), repeat_previous, CancellationToken::new()).await;
        assert_eq!((s.received, s.duplicates, s.lost), (20, 19, 0));
        let dups = events
            .iter()
            .filter(|e| matches!(e, PingEvent::Duplicate { .. }));
        assert_eq!(dups.count(), 19);
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_pings_are_lost_after_the_timeout() {
        let (s, err, _) = run_against(
            fast(10),
            |seq| if seq % 2 == 0 { vec![seq] } else { vec![] },
            CancellationToken::new(),
        )
        .await;
        assert!(err.is_none());
        assert_eq!((s.transmitted, s.received, s.lost), (10, 5, 5));
        assert!((s.loss_percent() - 50.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn interval_is_respected() {
        let opts = PingOptions {
            count: Some(5),
            interval: Duration::from_secs(1),
            ..fast(5)
        };
        let started = Instant::now();
        let (s, _, _) = run_against(opts, |seq| vec![seq], CancellationToken::new()).await;
        assert_eq!(s.received, 5);
        // Four intervals between five pings (virtual time, so exact).
        assert!(started.elapsed() >= Duration::from_secs(4));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_an_endless_run() {
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            stopper.cancel();
        });
        let opts = PingOptions {
            count: None,
            interval: Duration::from_secs(1),
            ..fast(0)
        };
        let (s, err, _) = run_against(opts, |seq| vec![seq], stop).await;
        assert!(err.is_none());
        assert_eq!((s.transmitted, s.received), (4, 4));
    }

    #[tokio::test]
    async fn a_pong_for_an_unsent_seq_is_a_protocol_error() {
        let (_, err, _) =
            run_against(fast(3), |seq| vec![seq + 1000], CancellationToken::new()).await;
        assert!(matches!(err, Some(ClientError::Protocol(_))), "{err:?}");
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
