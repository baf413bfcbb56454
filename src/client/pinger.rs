//! The ping loop over an established control stream: drives a
//! [`PingRun`] (which sends pings on schedule, matches
//! pongs, times out the unanswered and counts duplicates) over a byte stream.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use super::run::{PingEvent, PingOptions, PingRun};
use super::ClientError;
use crate::framed::{FramedError, FramedReader};
use crate::proto::ServerMessage;

/// Runs `run` on one session until it is finished or `stop` is cancelled.
///
/// Events are reported through `on_event` as they happen. `Err` means the
/// session failed; `run` keeps every unanswered ping, for [`PingRun::resend`] on
/// the next session.
pub async fn run_pings<R, W>(
    reader: &mut FramedReader<R>,
    writer: &mut W,
    run: &mut PingRun,
    stop: &CancellationToken,
    mut on_event: impl FnMut(&PingEvent) + Send,
) -> Result<(), ClientError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
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
        if let Some(limit) = run.options.suspect_after {
            if run.overdue(now, limit) {
                return Err(ClientError::SessionLost(format!(
                    "no pong for {} ms: the server stopped answering",
                    limit.as_millis()
                )));
            }
        }
        run.expire(now, emit);
        if run.finished() {
            return Ok(());
        }
        out.clear();
        run.fill(now, &mut out)?;
        if !out.is_empty() {
            writer.write_all(&out).await.map_err(FramedError::from)?;
            continue;
        }
        let mut wake = run.next_wake(now);
        if let (Some(limit), Some((_, at))) = (run.options.suspect_after, run.outstanding.oldest())
        {
            wake = wake.min(at + limit + Duration::from_millis(1));
        }
        if timer.deadline() != wake {
            timer.as_mut().reset(wake);
        }
        let read = tokio::select! {
            _ = &mut cancelled, if run.stop_deadline.is_none() => continue,
            _ = &mut timer => continue,
            read = reader.next::<ServerMessage>() => read,
        };
        // Handle this message and every other one already buffered; they all
        // arrived now.
        let received_at = Instant::now();
        let mut next = read;
        loop {
            match next {
                Ok(Some(message)) => run.on_message(message, received_at, emit)?,
                Ok(None) => {
                    return Err(ClientError::SessionLost(
                        "the server closed the stream".into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
            next = match reader.try_next::<ServerMessage>() {
                Ok(Some(message)) => Ok(Some(message)),
                Ok(None) => break,
                Err(e) => Err(e),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::PingSummary;
    use crate::proto::{encode_frame, ClientMessage};

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
}
