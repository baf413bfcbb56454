//! The ping loop: drives a [`PingRun`] over one session, or over two while the
//! first is suspect (make-before-break). It sends pings on schedule, matches
//! pongs, times out the unanswered, keeps each session's
//! session clock and returns a [`Turn`] whenever the caller has something
//! to decide: open a standby, switch, close one. The policy (when a session is
//! suspect or stalled) is [`suspicion`](super::suspicion); acting on it is
//! [`recovery`](super::recovery).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::lanes::{Lane, Lanes, Opening, Turn, Verdict};
pub use super::run::{Liveness, PingEvent, PingOptions, PingRun};
use super::suspicion::SessionClock;
use super::ClientError;
use crate::framed::{FramedError, FramedReader};
use crate::proto::ServerMessageView;

/// Runs `run` over `lanes` until it is finished, `stop` is cancelled or the
/// caller has something to decide (see [`Turn`]).
///
/// Events are reported through `on_event` as they happen. `Err` means the
/// primary session failed or stalled; `run` keeps every unanswered ping, for
/// [`Lanes::switch`] or [`PingRun::resend`] on the next session.
pub async fn run_lanes<L: Lane>(
    lanes: &mut Lanes<L>,
    run: &mut PingRun,
    stop: &CancellationToken,
    mut opening: Option<Opening<'_, L>>,
    mut on_event: impl FnMut(&PingEvent) + Send,
) -> Result<Turn<L>, ClientError> {
    // `Send`, so that a ping loop can run in a spawned task.
    let emit: &mut (dyn FnMut(&PingEvent) + Send) = &mut on_event;
    let mut out = Vec::new();
    // Created once: registering a fresh waiter and timer on every ping costs
    // more than the rest of the loop.
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    loop {
        let now = Instant::now();
        if stop.is_cancelled() {
            run.stop(now);
        }
        let connecting = matches!(opening, Some(Opening::Standby(_)));
        let stopping = run.stop_deadline.is_some();
        match lanes.judge(run.options.liveness, stopping, now, connecting)? {
            Some(Verdict::Turn(turn)) => return Ok(turn),
            Some(Verdict::Hedge) => {
                out.clear();
                let seqs = run.hedge(&mut out)?;
                return Ok(lanes.hedge(&seqs, &out, now).await);
            }
            None => {}
        }
        run.expire(now, emit);
        if run.finished() {
            return Ok(Turn::Finished);
        }
        out.clear();
        let before = run.sent();
        run.fill(now, &mut out, lanes.hedging())?;
        if !out.is_empty() {
            let turn = lanes.send(&out, before + 1, run.sent(), now).await?;
            for seq in before + 1..=run.sent() {
                emit(&PingEvent::Sent { seq });
            }
            if let Some(turn) = turn {
                return Ok(turn);
            }
            continue;
        }
        let mut wake = run.next_wake(now);
        if run.options.liveness == Liveness::Adaptive {
            for clock in [
                Some(lanes.primary.clock()),
                lanes.standby.as_mut().map(|s| s.clock()),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(change) = clock.next_change(now) {
                    wake = wake.min(change);
                }
            }
        } else if let (Liveness::After(limit), Some(at)) =
            (run.options.liveness, lanes.primary.clock().waiting_since())
        {
            wake = wake.min(at + limit + Duration::from_millis(1));
        }
        if timer.deadline() != wake {
            timer.as_mut().reset(wake);
        }
        let Lanes {
            primary, standby, ..
        } = lanes;
        let (primary_reader, _) = primary.streams();
        let standby_read = async {
            match standby {
                Some(s) => s.streams().0.ready().await,
                None => std::future::pending().await,
            }
        };
        let opened = async {
            match opening.as_mut() {
                Some(Opening::Standby(attempt)) => Turn::StandbyOpened(attempt.as_mut().await),
                Some(Opening::Move(attempt)) => Turn::MoveReady(attempt.as_mut().await),
                None => std::future::pending().await,
            }
        };
        let (read, from_primary) = tokio::select! {
            _ = &mut cancelled, if run.stop_deadline.is_none() => continue,
            _ = &mut timer => continue,
            read = primary_reader.ready() => (read, true),
            read = standby_read => (read, false),
            turn = opened => return Ok(turn),
        };
        // Handle this message and every other one already buffered; they all
        // arrived now.
        let received_at = Instant::now();
        let lane = if from_primary {
            &mut lanes.primary
        } else {
            match lanes.standby.as_mut() {
                Some(lane) => lane,
                None => continue,
            }
        };
        if let Err(error) = deliver(lane, read, run, received_at, emit) {
            if from_primary {
                return Err(error);
            }
            if let Some(standby) = lanes.take_standby() {
                return Ok(Turn::StandbyLost(standby, error));
            }
        }
    }
}

/// Makes the standby the primary (the old primary failed or stalled) and
/// returns the old one; the unanswered pings the new primary was not sent yet
/// (it was not hedging) are appended to `out` for it.
pub fn switch<L: Lane>(
    lanes: &mut Lanes<L>,
    run: &mut PingRun,
    out: &mut Vec<u8>,
) -> Result<Option<L>, ClientError> {
    let hedged = lanes.hedging();
    let Some(old) = lanes.switch() else {
        return Ok(None);
    };
    if !hedged {
        let now = Instant::now();
        for seq in run.resend(now, out)? {
            lanes.primary.clock().sent(seq, now);
        }
    }
    Ok(Some(old))
}

/// Handles every message buffered on `lane` once `ready` says a frame is
/// there: a pong read in place (its payload borrowed from the receive
/// buffer, no allocation per pong), any other message owned.
fn deliver<L: Lane>(
    lane: &mut L,
    ready: Result<bool, FramedError>,
    run: &mut PingRun,
    received_at: Instant,
    emit: &mut (dyn FnMut(&PingEvent) + Send),
) -> Result<(), ClientError> {
    if !ready? {
        return Err(ClientError::SessionLost(
            "the server closed the stream".into(),
        ));
    }
    loop {
        let answered = match lane.streams().0.try_next_server_view()? {
            None => return Ok(()),
            Some(ServerMessageView::Pong { seq, payload }) => {
                run.on_pong(seq, payload, received_at, emit)?
            }
            Some(ServerMessageView::Other(message)) => {
                run.on_message(message, received_at, emit)?
            }
        };
        if let Some(seq) = answered {
            lane.clock().answered(seq, received_at);
        }
    }
}

/// Runs `run` on one session until it is finished or `stop` is cancelled: no
/// standby, so a stalled session is simply lost.
pub async fn run_pings<R, W>(
    reader: &mut FramedReader<R>,
    writer: &mut W,
    run: &mut PingRun,
    stop: &CancellationToken,
    on_event: impl FnMut(&PingEvent) + Send,
) -> Result<(), ClientError>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let mut lane = Streams {
        reader,
        writer,
        clock: SessionClock::new(None),
    };
    let mut lanes = Lanes::new(&mut lane);
    let mut on_event = on_event;
    loop {
        match run_lanes(&mut lanes, run, stop, None, &mut on_event).await? {
            Turn::Finished => return Ok(()),
            // Nothing to hedge with: wait for the stall.
            _ => continue,
        }
    }
}

/// A bare control stream as a [`Lane`].
struct Streams<'a, R, W> {
    reader: &'a mut FramedReader<R>,
    writer: &'a mut W,
    clock: SessionClock,
}

impl<R, W> Lane for Streams<'_, R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    type Reader = R;
    type Writer = W;
    fn streams(&mut self) -> (&mut FramedReader<R>, &mut W) {
        (self.reader, self.writer)
    }
    fn clock(&mut self) -> &mut SessionClock {
        &mut self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::PingSummary;
    use crate::proto::{encode_frame, ClientMessage, ServerMessage};
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
        let mut run = PingRun::new(&options);
        let result = run_pings(&mut reader, &mut cw, &mut run, &stop, |e| {
            events.push(e.clone())
        })
        .await;
        run.abandon(&mut |e| events.push(e.clone()));
        drop(cw);
        server.abort();
        (run.summary(), result.err(), events)
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
        // Each seq is reported sent, then answered.
        let sent: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                PingEvent::Sent { seq } => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(sent, (1..=500).collect::<Vec<_>>());
        assert_eq!(events.len(), 1000);
        for seq in 1..=500u64 {
            let at = |want: &dyn Fn(&PingEvent) -> bool| events.iter().position(want).unwrap();
            assert!(
                at(&|e| *e == PingEvent::Sent { seq })
                    < at(&|e| matches!(e, PingEvent::Pong { seq: s, .. } if *s == seq))
            );
        }
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
}
